"""Imports in chromium: a rejected all-or-nothing file says so, an .xlsx workbook is imported, and an import
leads to the accounts it created."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import Workbook
from playwright.sync_api import Page, expect

from tests.conftest import World, drain_imports
from tests.console.conftest import shoot
from tests.console.test_console_in_browser import log_in

HEADER = ["fullName", "gsmNumber", "email", "securityModel", "description"]


def _xlsx(tmp_path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    for row in [HEADER, *rows]:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    path = tmp_path / "people.xlsx"
    path.write_bytes(out.getvalue())
    return path


def test_a_rejected_file_reads_rejected(page: Page, base_url: str, console_world: World, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(",".join(HEADER) + "\nAda,+393471234567,,end-to-site,\nBob,not-a-number,,end-to-site,\n")
    log_in(page, base_url, "admin", "admin-password-1")
    page.goto(f"{base_url}/batch")
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Create").click()
    drain_imports(console_world.ctx)
    expect(page.locator("dd.status")).to_have_text("Rejected", timeout=10_000)
    expect(page.get_by_role("alert")).to_contain_text("no account was created")
    expect(page.get_by_role("link", name="Download the result file")).to_be_visible()
    shoot(page, "60-import-rejected")


def test_an_xlsx_import_leads_to_the_accounts_it_created(
    page: Page, base_url: str, console_world: World, tmp_path: Path
) -> None:
    workbook = _xlsx(tmp_path, [["Ada Lovelace", "+393471234567", "", "end-to-site", ""],
                                ["Carla Rossi", "+393471234569", "", "end-to-end", "Board"]])  # fmt: skip
    log_in(page, base_url, "admin", "admin-password-1")
    page.goto(f"{base_url}/batch")
    page.get_by_label("CSV file").set_input_files(str(workbook))
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Import of people.xlsx")).to_be_visible()
    drain_imports(console_world.ctx)
    expect(page.locator("dd.created")).to_have_text("2", timeout=10_000)
    page.get_by_role("link", name="See the 2 accounts it created").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Accounts created by the import of people.xlsx")
    expect(page.locator("td.owner")).to_have_text(["Ada Lovelace", "Carla Rossi"])
    expect(page.locator("p.total")).to_have_text("2 accounts")
    shoot(page, "61-import-accounts")
