"""Every console page and every phone page, at 1366 px and at 375 px, checked by axe-core (the npm package,
installed by `make test`'s system-deps from tests/console/axe, injected into the page): zero violations. At
375 px the main pages fit the screen (nothing to scroll sideways). A screenshot of each lands in
artifacts/screenshots/."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from playwright.sync_api import Page

from chalicelib.domain.provisioning import Purpose
from chalicelib.services import accounts, activation, calls, imports, registrations
from tests.conftest import World, drain_imports
from tests.console.conftest import shoot, violations
from tests.test_registrations import event


def _world(world: World) -> dict[str, str]:
    """Something on every page: accounts with history, calls, messages, a registration, an import."""
    ctx, admin = world.ctx, world.admin
    ada = accounts.create_account(ctx, admin, world.account_data(username="ada", full_name="Ada Lovelace")).account
    bob = accounts.create_account(ctx, admin, world.account_data(username="bob", phone_number="+393471234599",
                                                                   secondary_phone_number="+393471234598"))  # fmt: skip
    accounts.update_account(ctx, admin, ada.id, {"full_name": "Ada King", "email": "ada@example.com"})
    activation.send_link(ctx, admin, ada.id, Purpose.INSTALL)
    registrations.record_events(ctx, [event(ada, "registered", ctx.clock(), transport="tls", source="198.51.100.7:4")])
    start = ctx.clock() - timedelta(minutes=5)
    facts = {"call_id": uuid.uuid4().hex, "edge": "e1", "dialled": "bob", "caller_account_id": ada.id,
             "caller_username": "ada", "callee_account_id": bob.account.id, "callee_username": "bob",
             "media_security": "sdes"}  # fmt: skip
    calls.record_events(ctx, [{"id": "c1", "kind": "call_started", "at": start.isoformat(), **facts},
                              {"id": "c2", "kind": "call_ended", "at": (start + timedelta(seconds=30)).isoformat(),
                               "result": "busy", "sip_code": 486, "sip_reason": "Busy", **facts}])  # fmt: skip
    csv = "fullName,gsmNumber,email,securityModel,description\nEve,+393471234577,,end-to-site,\n"
    job = imports.submit_upload(ctx, admin, world.group_a.id, "eve.csv", csv.encode(), imports.DEFAULT_OPTIONS)
    drain_imports(ctx)
    link = activation.send_link(ctx, admin, bob.account.id, Purpose.INSTALL).link
    return {"ada": ada.id, "job": job.id, "install": link.rsplit("/m/", 1)[1]}


def test_every_page_has_no_accessibility_violations_at_both_widths(
    checked_page: tuple[Page, str], base_url: str, console_world: World
) -> None:
    page, width = checked_page
    ids = _world(console_world)
    site = base_url.removesuffix("/console")
    public = [("login", f"{base_url}/login"), ("phone-install", f"{site}/m/{ids['install']}"),
              ("phone-activate", f"{site}/m/a/{'a' * 24}"), ("phone-dead-link", f"{site}/m/i/{'x' * 24}")]  # fmt: skip
    console = [
        ("accounts", "accounts"), ("accounts-sorted", "accounts?sort=full_name&dir=desc&enabled=yes"),
        ("account-state", f"accounts/{ids['ada']}?tab=state"),
        ("account-history", f"accounts/{ids['ada']}?tab=history"),
        ("account-configuration", f"accounts/{ids['ada']}?tab=configuration"),
        ("account-edit", f"accounts/{ids['ada']}/edit"), ("new-account", "new-account"),
        ("new-account-wizard", "new-account-wizard"), ("groups", "groups"),
        ("group-edit", f"groups/{console_world.group_a.id}/edit"), ("profiles", "profiles"),
        ("profile-edit", f"profiles/{console_world.profile.id}/edit"), ("operators", "operators"),
        ("operator-edit", f"operators/{console_world.operator_a.id}/edit"), ("registrations", "registrations"),
        ("outbox", "outbox"), ("imports", "imports"), ("import", f"imports/{ids['job']}"),
        ("import-accounts", f"accounts?import_id={ids['job']}"), ("batch", "batch"),
        ("web-sessions", "web-sessions"), ("health", "health"), ("audit", "audit"), ("audit-checked", "audit?check=1"),
    ]  # fmt: skip
    found: dict[str, object] = {}
    for name, url in public:
        page.goto(url)
        found[name] = violations(page)
        shoot(page, f"a11y-{width}-{name}")
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin-password-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/accounts")
    too_wide: dict[str, int] = {}
    for name, path in console:
        page.goto(f"{base_url}/{path}")
        found[name] = violations(page)
        scroll = int(page.evaluate("document.documentElement.scrollWidth"))
        if width == "phone" and scroll > 375:
            too_wide[name] = scroll
        shoot(page, f"a11y-{width}-{name}")
    failing = {name: v for name, v in found.items() if v}
    assert failing == {}, json.dumps(failing, indent=1)
    assert too_wide == {}, f"wider than the phone's 375 px: {too_wide}"
