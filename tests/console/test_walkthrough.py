"""The new operator's walk-through (issue 19): what such an operator hit first, now in chromium."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from chalicelib.services import accounts, groups
from tests.conftest import World
from tests.console.conftest import shoot
from tests.console.test_console_in_browser import log_in


def test_every_error_of_the_form_arrives_at_once_in_plain_words(
    page: Page, base_url: str, console_world: World
) -> None:
    world = console_world
    accounts.create_account(world.ctx, world.admin, world.account_data(phone_number="+393470000001"))
    log_in(page, base_url, "admin", "admin-password-1")
    page.get_by_role("link", name="New account", exact=True).click()
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Repeat password").fill("shorter")
    page.get_by_label("Virtual phone number (secondary)").fill("+393470000001")  # taken by the other account
    page.get_by_label("E-mail").fill("not-an-email")
    page.get_by_role("button", name="Create").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("5 fields need correcting")
    expect(page.locator("#e-password")).to_contain_text("at least 8 characters")
    expect(page.locator("#e-password_repeat")).to_have_text("The passwords differ.")
    expect(page.locator("#e-phone_number")).to_have_text("Virtual phone number is required.")
    expect(page.locator("#e-secondary_phone_number")).to_contain_text("already used by another account")
    expect(page.locator("#e-email")).to_contain_text("not an e-mail address")
    expect(summary).not_to_contain_text("_number'")  # no raw field names
    expect(page.get_by_label("Password", exact=True)).to_have_value("short")  # what was typed stays
    shoot(page, "30-all-errors-at-once")
    summary.get_by_role("link", name="Virtual phone number", exact=True).click()
    expect(page.get_by_label("Virtual phone number", exact=True)).to_be_focused()


def test_a_national_number_is_offered_in_e164_and_a_doubtful_one_is_confirmed(
    page: Page, base_url: str, console_world: World
) -> None:
    world = console_world
    groups.update_profile(world.ctx, world.admin, world.profile.id, {"default_country": "IT"})
    log_in(page, base_url, "admin", "admin-password-1")
    page.get_by_role("link", name="New account", exact=True).click()
    page.get_by_label("Password", exact=True).fill("sip-secret-1")
    page.get_by_label("Repeat password").fill("sip-secret-1")
    page.get_by_label("Virtual phone number", exact=True).fill("347 123 4567")
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".number-check")).to_contain_text("in the profile's default country it is +393471234567")
    expect(page.get_by_label("Virtual phone number", exact=True)).to_have_value("+393471234567")
    shoot(page, "31-national-number")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_have_text("The account has been created.")
    expect(page.locator("dd").filter(has_text="+393471234567")).to_be_visible()

    page.goto(f"{base_url}/new-account")
    page.get_by_label("Password", exact=True).fill("sip-secret-1")
    page.get_by_label("Repeat password").fill("sip-secret-1")
    page.get_by_label("Virtual phone number", exact=True).fill("+39000123")
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".number-check")).to_contain_text("not a valid one for its country")
    page.get_by_role("button", name="Create").click()  # not confirmed: asked again, nothing created
    expect(page.locator(".number-check")).to_be_visible()
    assert world.ctx.accounts.get_by_number("+39000123") is None
    page.get_by_label("Keep +39000123 as it is").check()
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_have_text("The account has been created.")
    # the service's warnings reach the screen, and why the SMS buttons are missing is said
    expect(page.get_by_role("alert").filter(has_text="Virtual phone number: +39000123")).to_be_visible()
    expect(page.get_by_role("button", name="Send installation SMS")).to_be_visible()

    short = accounts.create_account(world.ctx, world.admin, world.account_data(phone_number="111")).account
    page.goto(f"{base_url}/accounts/{short.id}?tab=configuration")
    expect(page.locator(".activation-note")).to_contain_text("111 is not an international number")
    expect(page.get_by_role("button", name="Send installation SMS")).to_have_count(0)


def test_a_viewer_cannot_open_the_forms_by_url(page: Page, base_url: str, console_world: World) -> None:
    world = console_world
    account = accounts.create_account(world.ctx, world.admin, world.account_data()).account
    log_in(page, base_url, "viewer-a", "viewer-a-password")
    for path in ("new-account", "new-account-wizard", "batch", f"accounts/{account.id}/edit"):
        response = page.goto(f"{base_url}/{path}")
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("alert")).to_contain_text("may")


def test_groups_profiles_and_operators_are_edited_and_an_in_use_delete_is_explained(
    page: Page, base_url: str, console_world: World
) -> None:
    world = console_world
    accounts.create_account(world.ctx, world.admin, world.account_data())
    log_in(page, base_url, "admin", "admin-password-1")
    page.get_by_role("link", name="Groups").click()
    expect(page.locator("nav[aria-label=Main] a[aria-current=page]")).to_have_text("Groups")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete Group A").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Group A was not deleted")
    shoot(page, "32-in-use-delete")
    alert.get_by_role("link", name="See the accounts of Group A").click()
    expect(page.locator("td.owner")).to_have_count(1)

    page.get_by_role("link", name="Groups").click()
    page.get_by_role("link", name="Edit Group B").click()
    page.get_by_label("Name").fill("Group B (night)")
    page.get_by_label("IT contact e-mail").fill("broken")
    page.get_by_role("button", name="Save group").click()
    expect(page.locator("#e-it_email")).to_contain_text("not an e-mail address")
    page.get_by_label("IT contact e-mail").fill("night@example.com")
    page.get_by_role("button", name="Save group").click()
    expect(page.get_by_role("status")).to_have_text("The group has been saved.")
    expect(page.get_by_role("cell", name="Group B (night)", exact=True)).to_be_visible()
    shoot(page, "33-group-edit")

    page.get_by_role("link", name="Provisioning profiles").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete default").click()
    expect(page.get_by_role("alert")).to_contain_text("Groups that use it")
    page.get_by_role("link", name="Edit default").click()
    page.get_by_label(re.compile("^Default country")).fill("it")
    page.get_by_label("SIP host").fill("sip2.example.com")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_have_text("The provisioning profile has been saved.")
    expect(page.get_by_role("cell", name="sip2.example.com")).to_be_visible()
    expect(page.get_by_role("cell", name="IT", exact=True)).to_be_visible()

    page.get_by_role("link", name="Operators").click()
    page.get_by_role("link", name="Edit op-a").click()
    page.get_by_label("Role").select_option("viewer")
    page.get_by_label("Group B (night)").check()
    page.get_by_role("button", name="Save operator").click()
    expect(page.get_by_role("status")).to_have_text("The operator has been saved.")
    row = page.get_by_role("row").filter(has_text="op-a")
    expect(row).to_contain_text("viewer")
    expect(row).to_contain_text("Group A, Group B (night)")
    shoot(page, "34-operators-edit")


def test_a_skip_link_leads_to_the_content_and_the_current_page_is_marked(
    page: Page, base_url: str, console_world: World
) -> None:
    log_in(page, base_url, "admin", "admin-password-1")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    expect(page.locator("nav[aria-label=Main] a[aria-current=page]")).to_have_text("Accounts")


def test_a_phone_opening_a_dead_link_gets_a_page_in_its_language(
    page: Page, base_url: str, console_world: World
) -> None:
    site = base_url.removesuffix("/console")
    response = page.goto(f"{site}/m/i/{'x' * 24}")
    assert response is not None and response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", level=1)).to_have_text("This link cannot be used")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("main")).to_contain_text("Ask your operator to send a new link.")
    assert page.title().startswith("This link cannot be used")
    shoot(page, "35-phone-dead-link")
    page.set_extra_http_headers({"Accept-Language": "it-IT,it;q=0.9,en;q=0.5"})
    page.goto(f"{site}/m/i/{'y' * 24}/download")
    expect(page.locator("html")).to_have_attribute("lang", "it")
    expect(page.get_by_role("heading", level=1)).to_have_text("Questo link non è utilizzabile")


def test_the_audit_page_lists_actions_filters_them_and_checks_the_chain(
    page: Page, base_url: str, console_world: World
) -> None:
    world = console_world
    account = accounts.create_account(world.ctx, world.operator_a, world.account_data(full_name="Ada")).account
    log_in(page, base_url, "admin", "admin-password-1")
    page.goto(f"{base_url}/accounts/{account.id}/edit")
    page.get_by_label("Owner").fill("Ada King")
    page.get_by_role("button", name="Update").click()
    page.get_by_role("link", name="Audit").click()
    expect(page.locator("nav[aria-label=Main] a[aria-current=page]")).to_have_text("Audit")
    rows = page.locator("table.audit tbody tr")
    expect(rows.first).to_contain_text("account.update")
    expect(rows.first).to_contain_text("full_name: Ada → Ada King")
    expect(rows.first).to_contain_text("127.0.0.1")
    page.get_by_label("Operator").select_option("op-a")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td.action")).to_have_text("account.create")
    shoot(page, "70-audit")
    page.get_by_role("link", name="Check the chain").click()
    expect(page.locator(".chain-check")).to_contain_text("the chain is intact")
