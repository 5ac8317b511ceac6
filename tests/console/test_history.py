"""The account's History and State tabs in chromium: changes as before -> after, events in plain words, the
timeline filtered by kind, the calls placed and received with paging, and a call going on."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chalicelib.domain.errors import InvalidLink
from chalicelib.domain.model import Account
from chalicelib.domain.provisioning import Purpose
from chalicelib.services import accounts, activation, calls
from tests.conftest import World
from tests.console.conftest import shoot
from tests.console.test_console_in_browser import log_in


def _call(world: World, caller: Account, callee: Account, minutes_ago: float, *, ended: bool = True) -> None:
    start = world.ctx.clock() - timedelta(minutes=minutes_ago)
    call_id = uuid.uuid4().hex
    facts: dict[str, Any] = {"call_id": call_id, "edge": "edge-1", "dialled": callee.username,
                             "caller_account_id": caller.id, "caller_username": caller.username,
                             "callee_account_id": callee.id, "callee_username": callee.username,
                             "media_security": "sdes"}  # fmt: skip
    events = [{"id": uuid.uuid4().hex, "kind": "call_started", "at": start.isoformat(), **facts},
              {"id": uuid.uuid4().hex, "kind": "call_answered", "at": (start + timedelta(seconds=2)).isoformat(),
               "sip_code": 200, **facts}]  # fmt: skip
    if ended:
        end = start + timedelta(seconds=62)
        events.append({"id": uuid.uuid4().hex, "kind": "call_ended", "at": end.isoformat(), "sip_code": 200,
                       "result": "answered", **facts})  # fmt: skip
    calls.record_events(world.ctx, events)


def test_history_shows_what_changed_in_plain_words_and_filters_by_kind(
    page: Page, base_url: str, console_world: World
) -> None:
    world = console_world
    data = world.account_data(full_name="Marco Rossi", email="marco@example.com")
    account = accounts.create_account(world.ctx, world.admin, data).account
    change = {"full_name": "Marco Rossi Jr", "email": "marco@example.com", "description": "", "password": "secret-99"}
    accounts.update_account(world.ctx, world.admin, account.id, change)
    activation.send_link(world.ctx, world.admin, account.id, Purpose.INSTALL)
    log_in(page, base_url, "admin", "admin-password-1")
    page.goto(f"{base_url}/accounts/{account.id}?tab=history")
    rows = page.locator("table.timeline tbody tr")
    expect(rows).to_have_count(3)  # SMS queued, updated, created
    changed = rows.filter(has_text="Settings changed")
    expect(changed.locator("ul.diff li")).to_have_count(2)  # the owner and the password, not every field
    expect(changed).to_contain_text("Owner: Marco Rossi → Marco Rossi Jr")
    expect(changed).to_contain_text("Password: changed (not shown)")
    expect(changed).not_to_contain_text("secret-99")
    expect(rows.filter(has_text="Installation SMS queued")).to_have_count(1)
    expect(rows.filter(has_text="Account created")).to_contain_text("way: the plain way")
    expect(page.locator("table.timeline")).not_to_contain_text("installation_sms_queued")
    expect(page.locator("table.timeline")).not_to_contain_text("message_id")
    shoot(page, "40-history-diff")
    page.get_by_label("Show").select_option("messages")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Installation SMS queued")
    page.get_by_label("Show").select_option("account")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(2)


def test_calls_placed_and_received_page_and_a_call_in_progress_shows_on_state(
    page: Page, base_url: str, console_world: World
) -> None:
    world = console_world
    alice = accounts.create_account(world.ctx, world.admin, world.account_data(username="alice")).account
    bob = accounts.create_account(
        world.ctx, world.admin, world.account_data(username="bob", phone_number="+393471234599")
    ).account
    for minutes in range(12):
        _call(world, alice, bob, 60 + minutes)  # twelve placed by alice
    _call(world, bob, alice, 30)  # one received
    log_in(page, base_url, "admin", "admin-password-1")
    page.goto(f"{base_url}/accounts/{alice.id}?tab=history")
    expect(page.get_by_role("heading", name="Latest calls")).to_be_visible()
    table = page.locator("table.calls tbody tr")
    expect(table).to_have_count(10)
    expect(table.first).to_contain_text("bob")
    expect(table.first).to_contain_text("Answered")
    expect(table.first).to_contain_text("1 min 0 s")
    page.get_by_role("link", name="Older calls").click()
    expect(table).to_have_count(2)
    page.get_by_role("link", name="Back to the newest calls").click()
    expect(table).to_have_count(10)
    page.get_by_role("link", name="All received calls").click()
    expect(page.get_by_role("heading", name="All received calls")).to_be_visible()
    expect(table).to_have_count(1)
    expect(table.first).to_contain_text("bob")
    shoot(page, "41-received-calls")

    page.goto(f"{base_url}/accounts/{alice.id}?tab=state")
    expect(page.locator("dd.on-call")).to_have_count(0)
    _call(world, alice, bob, 1, ended=False)
    page.reload()
    expect(page.locator("dd.on-call")).to_contain_text("On a call to bob")
    expect(page.locator("dd.on-call")).to_contain_text("answered")
    shoot(page, "42-state-on-call")


def test_revoking_all_keys_says_what_happens_and_records_it(page: Page, base_url: str, console_world: World) -> None:
    world = console_world
    account = accounts.create_account(world.ctx, world.admin, world.account_data()).account
    link = activation.send_link(world.ctx, world.admin, account.id, Purpose.INSTALL).link
    log_in(page, base_url, "admin", "admin-password-1")
    page.goto(f"{base_url}/accounts/{account.id}?tab=configuration")
    said: list[str] = []
    page.once("dialog", lambda dialog: (said.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Revoke all keys").click()
    expect(page.get_by_role("status")).to_contain_text("All keys have been revoked")
    assert "SIP password stops working" in said[0] and "new password" in said[0]
    stored = world.ctx.accounts.get(account.id)
    assert stored is not None and stored.credentials is None and not stored.enabled
    with pytest.raises(InvalidLink):  # the installation link sent before is void
        activation.open_installation_link(world.ctx, link.rsplit("/", 1)[1], "", "10.0.0.1")
    page.get_by_role("button", name="Enable account").click()
    expect(page.get_by_role("alert")).to_contain_text("give the account a new password")
    page.goto(f"{base_url}/accounts/{account.id}?tab=history")
    expect(page.locator("table.timeline tbody tr").first).to_contain_text("All keys revoked")
    expect(page.locator("table.timeline tbody tr").first).to_contain_text("needs: a new password, then enabling")
    shoot(page, "43-keys-revoked")
