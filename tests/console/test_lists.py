"""The other lists that scale, in chromium at 1366 px and at 375 px: registered accounts, imports, outbox,
operators and the audit trail each sort by a column (both ways), filter, change the page size, go to the next
page and back, and keep the whole state in the URL (a reload shows the same page); axe-core finds nothing on
them, and a screenshot of each lands in artifacts/screenshots/."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from chalicelib.domain.import_job import ImportJob
from chalicelib.domain.provisioning import MessageStatus, Purpose, SmsMessage
from chalicelib.services import accounts, operators, registrations
from tests.conftest import World
from tests.console.conftest import shoot, violations
from tests.test_registrations import event

SEEDED = 30  # more than the first page's 25 rows


@dataclass(frozen=True)
class Walk:
    """One list's walk: where it is, what its total counts, a column and what heads the list sorted by it each
    way, a filter and how many rows it keeps."""

    path: str
    noun: str  # "registrations": the total reads "30 registrations · page 1 of 2"
    total: int
    column: str  # a sortable column's label (also its cells' data-label)
    first_click: tuple[str, str]  # aria-sort after the first click on it, and the first row's cell then
    second_click: tuple[str, str]
    filter_label: str
    filter_value: str
    filter_param: str
    filtered: int
    show: str = "Show"
    cell: str = ""  # the data-label of the cells the order is read from (the column's own by default)


def _walk(checked_page: tuple[Page, str], base_url: str, walk: Walk, name: str) -> None:
    page, width = checked_page
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin-password-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/accounts")
    page.goto(f"{base_url}/{walk.path}")
    total, rows = page.locator("p.total"), page.locator("main table tbody tr")
    expect(total).to_have_text(f"{walk.total} {walk.noun} · page 1 of 2")
    expect(rows).to_have_count(25)
    page.get_by_role("link", name="Next page").click()
    expect(total).to_have_text(f"{walk.total} {walk.noun} · page 2 of 2")
    expect(rows).to_have_count(walk.total - 25)
    page.get_by_role("link", name="Previous page").click()
    expect(total).to_have_text(f"{walk.total} {walk.noun} · page 1 of 2")
    expect(rows).to_have_count(25)
    found = {"first page": violations(page)}

    heading = page.locator("main table thead").get_by_role("link", name=re.compile(f"^{re.escape(walk.column)}"))
    cell = f"td[data-label='{walk.cell or walk.column}']"
    for sorted_as, first in (walk.first_click, walk.second_click):
        heading.click()
        expect(page.locator(f"th[aria-sort={sorted_as}]")).to_contain_text(walk.column)
        expect(rows.first.locator(cell)).to_have_text(first)

    page.get_by_label(walk.filter_label, exact=True).select_option(walk.filter_value)
    page.get_by_label("Per page").select_option("50")
    page.get_by_role("button", name=walk.show, exact=True).click()
    expect(total).to_have_text(f"{walk.filtered} {walk.noun}")
    expect(rows).to_have_count(walk.filtered)
    sorted_as, first = walk.second_click
    expect(page.locator(f"th[aria-sort={sorted_as}]")).to_contain_text(walk.column)  # the order is kept
    assert f"{walk.filter_param}={walk.filter_value}" in page.url and "size=50" in page.url, page.url
    heads = rows.first.locator(cell).inner_text()
    page.reload()  # the URL holds the state: the same page again
    expect(total).to_have_text(f"{walk.filtered} {walk.noun}")
    expect(rows.first.locator(cell)).to_have_text(heads)
    expect(page.get_by_label(walk.filter_label, exact=True)).to_have_value(walk.filter_value)
    expect(page.get_by_label("Per page")).to_have_value("50")
    found["filtered, sorted"] = violations(page)
    shoot(page, f"60-{name}-{width}")
    failing = {k: v for k, v in found.items() if v}
    assert failing == {}, json.dumps(failing, indent=1)


def _registrations(world: World) -> Walk:
    ctx, now = world.ctx, world.ctx.clock()
    for i in range(SEEDED):
        data = world.account_data(username=f"reg{i:02d}", phone_number=f"+3934730000{i:02d}")
        account = accounts.create_account(ctx, world.admin, data).account
        transport = "tls" if i % 3 == 0 else "udp"
        found = event(account, "registered", now, transport=transport, contact=f"sip:reg{i}@10.0.1.{i}:5061",
                      source=f"10.0.1.{i}:5061", edge=f"edge-{i % 2}")  # fmt: skip
        registrations.record_events(ctx, [found])
    return Walk("registrations", "registrations", SEEDED, "Username", ("descending", "reg29"), ("ascending", "reg00"),
                "Transport", "tls", "transport", 10)  # fmt: skip


def _imports(world: World) -> Walk:
    now = world.ctx.clock()
    for i in range(SEEDED):
        job = ImportJob(id=uuid.uuid4().hex, group_id=world.group_a.id, file_name=f"file{i:02d}.csv",
                        created_by="admin", created_at=now - timedelta(minutes=i), policy="skip_invalid",
                        dry_run=i % 5 == 0, status="completed" if i % 2 else "rejected", rows=i,
                        created=i if i % 2 else 0, source="drop" if i % 3 == 0 else "upload")  # fmt: skip
        assert world.ctx.imports.add(job)
    return Walk("imports", "imports", SEEDED, "File", ("ascending", "file00.csv"), ("descending", "file29.csv"),
                "Status", "rejected", "status", 15)  # fmt: skip


def _outbox(world: World) -> Walk:
    now = world.ctx.clock()
    owners = [accounts.create_account(world.ctx, world.admin, world.account_data(
        username=f"sms{i}", phone_number=f"+39347400000{i}")).account for i in range(3)]  # fmt: skip
    for i in range(SEEDED):
        owner, failed = owners[i % 3], i % 3 == 0
        at = now - timedelta(minutes=i)
        world.ctx.messages.add(SmsMessage(
            id=uuid.uuid4().hex, account_id=owner.id, to=owner.phone_number, body=f"Text {i:02d} …",
            purpose=Purpose.INSTALL if i % 2 else Purpose.ACTIVATE,
            status=MessageStatus.FAILED if failed else MessageStatus.DELIVERED, created_at=at, updated_at=at,
            error_code="30003" if failed else "", error_message="Unreachable handset" if failed else ""))  # fmt: skip
    return Walk("outbox", "messages", SEEDED, "Account", ("ascending", "sms0"), ("descending", "sms2"),
                "Problem", "yes", "problem", 10)  # fmt: skip


def _operators(world: World) -> Walk:
    for i in range(SEEDED - 3):  # the world has admin, op-a and viewer-a already
        role = "viewer" if i % 3 == 0 else "operator"
        data = {"username": f"staff{i:02d}", "password": "staff-password-1", "role": role, "group_ids": []}
        operators.create_operator(world.ctx, world.admin, data)
    return Walk("operators", "operators", SEEDED, "Username", ("descending", "viewer-a"), ("ascending", "admin"),
                "Role", "viewer", "role", 10)  # fmt: skip


def _audit(world: World) -> Walk:
    for i in range(SEEDED - 3):  # with the world's own operators: more operator entries than one page
        data = {"username": f"audited{i:02d}", "password": "staff-password-1", "role": "viewer", "group_ids": []}
        operators.create_operator(world.ctx, world.admin, data)
    made = [e for e in world.ctx.audit.in_order() if e.action == "operator.create"]
    head = world.ctx.audit.head()
    entries = (head.seq if head else 0) + 1  # with the login the walk starts with
    assert len(made) > 25 and 25 < entries <= 50
    return Walk("audit", "entries", entries, "When", ("ascending", "1"), ("descending", str(entries)),
                "Kind", "operator", "kind", len(made), show="Filter", cell="#")  # fmt: skip


LISTS = {"registrations": _registrations, "imports": _imports, "outbox": _outbox, "operators": _operators,
         "audit": _audit}  # fmt: skip


@pytest.mark.parametrize("name", list(LISTS))
def test_each_list_sorts_filters_pages_and_keeps_its_state_in_the_url(
    name: str, checked_page: tuple[Page, str], base_url: str, console_world: World
) -> None:
    _walk(checked_page, base_url, LISTS[name](console_world), name)
