"""The account list that scales, in chromium: sortable columns, filters, a total, page size, previous/next,
the secondary number, and the whole state in the URL."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from chalicelib.services import accounts, search
from tests.conftest import World
from tests.console.conftest import shoot
from tests.console.test_console_in_browser import log_in


def _people(world: World, count: int) -> None:
    for i in range(count):
        data = world.account_data(username=f"user{i:02d}", full_name=f"Owner {chr(ord('Z') - i)}",
                                  phone_number=f"+3934710000{i:02d}",
                                  secondary_phone_number=f"+3934720000{i:02d}" if i == 3 else None)  # fmt: skip
        account = accounts.create_account(world.ctx, world.admin, data).account
        if i % 4 == 0:
            accounts.set_enabled(world.ctx, world.admin, account.id, False)
    search.rebuild(world.ctx)


def test_sorting_filters_paging_and_a_total_kept_in_the_url(page: Page, base_url: str, console_world: World) -> None:
    world = console_world
    _people(world, 30)
    log_in(page, base_url, "admin", "admin-password-1")
    expect(page.locator("p.total")).to_have_text("30 accounts · page 1 of 2")
    rows = page.locator("table.accounts tbody tr")
    expect(rows).to_have_count(25)
    expect(rows.first).to_contain_text("user00")
    expect(page.locator("td.secondary").filter(has_text="+393472000003")).to_have_count(1)
    page.get_by_role("link", name="Next page").click()
    expect(rows).to_have_count(5)
    expect(page.locator("p.total")).to_have_text("30 accounts · page 2 of 2")
    page.get_by_role("link", name="Previous page").click()
    expect(rows).to_have_count(25)
    expect(rows.first).to_contain_text("user00")

    page.get_by_role("link", name=re.compile("^Owner")).click()  # A..Z: user29 holds "Owner A"... wraps below
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Owner")
    first_owner = rows.first.locator("td.owner").inner_text()
    page.get_by_role("link", name=re.compile("^Owner")).click()
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Owner")
    expect(rows.first.locator("td.owner")).not_to_have_text(first_owner)
    expect(rows.first.locator("td.owner")).to_have_text("Owner Z")

    page.get_by_label("Enabled", exact=True).select_option("no")
    page.get_by_label("Per page").select_option("50")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("p.total")).to_have_text("8 accounts")
    expect(rows).to_have_count(8)
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Owner")  # the order is kept with a filter
    assert "enabled=no" in page.url and "size=50" in page.url and "dir=desc" in page.url
    shoot(page, "50-account-list-sorted-filtered")
    page.reload()  # the URL holds the state: the same page again
    expect(page.locator("p.total")).to_have_text("8 accounts")
    expect(rows.first.locator("td.owner")).to_have_text("Owner Z")
    expect(page.get_by_label("Enabled", exact=True)).to_have_value("no")


def test_after_a_delete_the_list_returns_to_the_accounts_group(page: Page, base_url: str, console_world: World) -> None:
    world = console_world
    account = accounts.create_account(world.ctx, world.admin, world.account_data(group_id=world.group_b.id)).account
    log_in(page, base_url, "admin", "admin-password-1")
    page.goto(f"{base_url}/accounts/{account.id}?tab=configuration")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_have_text("The account has been deleted.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Account list: Group B")


def test_bulk_actions_confirm_how_many_and_give_an_outcome_per_account(
    page: Page, base_url: str, console_world: World
) -> None:
    world = console_world
    mobile = accounts.create_account(world.ctx, world.admin, world.account_data(username="mobile1")).account
    short = accounts.create_account(world.ctx, world.admin, world.account_data(username="short1", phone_number="111"))
    off = accounts.create_account(
        world.ctx, world.admin, world.account_data(username="off1", phone_number="+393471234511")
    ).account
    accounts.set_enabled(world.ctx, world.admin, off.id, False)
    log_in(page, base_url, "admin", "admin-password-1")
    for name in ("mobile1", "short1", "off1"):
        page.get_by_label(f"Select {name}").check()
    page.get_by_label("With the selected accounts").select_option("send_installation_sms")
    page.get_by_role("button", name="Apply to selected").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Send the installation SMS to 3 accounts?")
    expect(page.locator(".confirm-text")).to_contain_text("mobile1, off1, short1")
    shoot(page, "51-bulk-confirm")
    page.get_by_role("button", name=re.compile("^Yes")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Installation SMS: 2 done, 1 skipped, 0 failed")
    results = page.locator("table.bulk-results tbody tr")
    expect(results.filter(has_text="mobile1")).to_contain_text("Done")
    expect(results.filter(has_text="short1")).to_contain_text("Skipped")
    expect(results.filter(has_text="short1")).to_contain_text("international")
    expect(results.filter(has_text="off1")).to_contain_text("Done")
    shoot(page, "52-bulk-results")
    page.get_by_role("link", name="Back to the account list").click()
    page.get_by_label("Select short1").check()
    page.get_by_label("Select off1").check()
    page.get_by_label("With the selected accounts").select_option("delete")
    page.get_by_role("button", name="Apply to selected").click()
    accounts.delete_account(world.ctx, world.admin, off.id)  # someone else was quicker: that one fails
    page.get_by_role("button", name="Yes, delete 2 accounts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete: 1 done, 0 skipped, 1 failed")
    expect(results.filter(has_text=off.id)).to_contain_text("Account not found.")
    assert world.ctx.accounts.get(off.id) is None and world.ctx.accounts.get(short.account.id) is None
    page.get_by_role("link", name="Back to the account list").click()
    page.get_by_label("Select mobile1").check()
    page.get_by_label("With the selected accounts").select_option("export")
    with page.expect_download() as download:
        page.get_by_role("button", name="Apply to selected").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("username,owner,number") and mobile.username in text
