"""The storage ports' contract: every test runs against the in-memory fake and DynamoDB on moto."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import (
    ConcurrentModification,
    Conflict,
    FileMissing,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from chalicelib.domain.import_job import ImportJob
from chalicelib.domain.model import Account, Language, LoginAttempt, Role, Session, TimelineEvent
from chalicelib.domain.registration import Registration
from chalicelib.services import accounts, groups, guards, operators
from chalicelib.services.context import Context
from tests.conftest import World


def test_group_names_are_unique_case_insensitively(world: World) -> None:
    with pytest.raises(Conflict) as exc:
        world.make_group("group a")
    assert exc.value.field == "name"


def test_renaming_a_group_frees_the_old_name(world: World) -> None:
    groups.update_group(world.ctx, world.admin, world.group_a.id, {"name": "Sales"})
    assert world.make_group("Group A").name == "Group A"
    with pytest.raises(Conflict):
        world.make_group("SALES")


def test_group_update_keeps_the_account_counter(world: World) -> None:
    world_account = world.account_data()
    accounts.create_account(world.ctx, world.admin, world_account)
    updated = groups.update_group(world.ctx, world.admin, world.group_a.id, {"it_email": "new@example.com"})
    stored = groups.get_group(world.ctx, world.admin, world.group_a.id)
    assert stored.account_count == 1 and stored.it_email == "new@example.com"
    assert updated.version == world.group_a.version + 1


def test_a_groups_announcement_language_is_stored_and_changed(world: World) -> None:
    assert world.group_a.language is Language.EN
    groups.update_group(world.ctx, world.admin, world.group_a.id, {"language": "de"})
    assert groups.get_group(world.ctx, world.admin, world.group_a.id).language is Language.DE


def test_stale_writes_are_refused(world: World) -> None:
    groups.update_group(world.ctx, world.admin, world.group_a.id, {"it_email": "one@example.com"})
    stale = world.group_a  # version 1, while the store now has version 2
    with pytest.raises(ConcurrentModification):
        world.ctx.groups.replace(stale, replace(stale, it_email="two@example.com", version=2))


def test_group_needs_an_existing_profile(world: World) -> None:
    with pytest.raises(ValidationFailed) as exc:
        groups.create_group(
            world.ctx, world.admin, {"name": "x", "it_email": "it@example.com", "provisioning_profile_id": "nope"}
        )
    assert exc.value.errors[0].field == "provisioning_profile_id"


def test_profile_in_use_cannot_be_deleted_or_change_domain(world: World) -> None:
    spare = world.make_profile("spare")
    groups.delete_profile(world.ctx, world.admin, spare.id)
    with pytest.raises(NotFound):
        groups.get_profile(world.ctx, world.admin, spare.id)
    with pytest.raises(Conflict) as exc:
        groups.delete_profile(world.ctx, world.admin, world.profile.id)
    assert exc.value.code == "profile_in_use"
    accounts.create_account(world.ctx, world.admin, world.account_data())
    with pytest.raises(Conflict) as exc:
        groups.update_profile(world.ctx, world.admin, world.profile.id, {"sip_domain": "other.example.com"})
    assert exc.value.field == "sip_domain"
    renamed = groups.update_profile(world.ctx, world.admin, world.profile.id, {"sip_host": "sip2.example.com"})
    assert renamed.sip_host == "sip2.example.com"


def test_profile_defaults_tls_first_and_checks_the_default_transport(world: World) -> None:
    assert (world.profile.tls_port, world.profile.default_transport.value) == (5061, "tls")
    with pytest.raises(ValidationFailed) as exc:
        world.make_profile("udp-less", udp_port=None, default_transport="udp")
    assert exc.value.errors[0].code == "transport_without_port"


def test_lists_page_through_everything(world: World) -> None:
    for i in range(5):
        world.make_group(f"extra {i}")
    names: list[str] = []
    cursor = None
    while True:
        page = groups.list_groups(world.ctx, world.admin, 2, cursor)
        names += [g.name for g in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert sorted(names) == sorted(["Group A", "Group B"] + [f"extra {i}" for i in range(5)])


def test_non_admins_list_only_their_groups(world: World) -> None:
    page = groups.list_groups(world.ctx, world.operator_a, 50, None)
    assert [g.id for g in page.items] == [world.group_a.id]


def test_operator_usernames_are_unique_and_found_case_insensitively(world: World) -> None:
    with pytest.raises(Conflict):
        world.make_operator("OP-A", Role.OPERATOR, [])
    found = world.ctx.operators.get_by_username("Op-A")
    assert found is not None and found.id == world.operator_a.id


def test_operators_cannot_lock_themselves_out(world: World) -> None:
    with pytest.raises(Conflict):
        operators.update_operator(world.ctx, world.admin, world.admin.id, {"role": "viewer"})
    with pytest.raises(Conflict):
        operators.delete_operator(world.ctx, world.admin, world.admin.id)
    operators.delete_operator(world.ctx, world.admin, world.viewer_a.id)
    assert world.ctx.operators.get_by_username("viewer-a") is None


def test_sessions_store_and_forget(ctx: Context) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    session = Session("h" * 64, "operator-1", now, now + timedelta(hours=1))
    ctx.sessions.add(session)
    assert ctx.sessions.get("h" * 64) == session
    ctx.sessions.remove("h" * 64)
    assert ctx.sessions.get("h" * 64) is None


def test_rate_counters_stop_at_the_limit_per_window(ctx: Context) -> None:
    now = datetime(2026, 11, 25, 12, 0, 1, tzinfo=UTC)
    assert [ctx.sessions.take("k", 60, now, 3) for _ in range(4)] == [True, True, True, False]
    ctx.sessions.give_back("k", 60, now)
    assert ctx.sessions.take("k", 60, now, 3) is True
    assert ctx.sessions.take("k", 60, now, 3) is False
    assert ctx.sessions.take("k", 60, now + timedelta(seconds=60), 3) is True  # the next window
    assert ctx.sessions.take("other", 60, now, 3) is True


def test_rate_counters_never_pass_the_limit_under_concurrency(ctx: Context) -> None:
    now = datetime(2026, 11, 25, 12, 0, 1, tzinfo=UTC)
    with ThreadPoolExecutor(max_workers=16) as pool:
        taken = list(pool.map(lambda _: ctx.sessions.take("race", 900, now, 5), range(16)))
    assert taken.count(True) == 5


def test_giving_back_never_goes_below_zero(ctx: Context) -> None:
    now = datetime(2026, 11, 25, 12, 0, 1, tzinfo=UTC)
    ctx.sessions.give_back("fresh", 60, now)
    assert [ctx.sessions.take("fresh", 60, now, 1) for _ in range(2)] == [True, False]


def test_login_audit_lists_newest_first(ctx: Context) -> None:
    base = datetime.now(UTC).replace(microsecond=0)
    for i in range(3):
        ctx.login_audit.record(LoginAttempt(base + timedelta(seconds=i), f"user{i}", "10.0.0.1", "success", "ua"))
    assert [a.username for a in ctx.login_audit.recent(2, base)] == ["user2", "user1"]


def test_timeline_is_newest_first_and_append_only(world: World) -> None:
    account = accounts.create_account(world.ctx, world.admin, world.account_data()).account
    later = account.created_at + timedelta(seconds=5)
    world.ctx.accounts.append_event(TimelineEvent(account.id, later, "note", "tester", {"text": "hello"}))
    events = world.ctx.accounts.timeline(account.id, 10)
    assert [(e.kind, e.detail) for e in events] == [("note", {"text": "hello"}), ("created", {"mode": "plain"})]


def test_account_lookup_by_username(world: World) -> None:
    account = accounts.create_account(world.ctx, world.admin, world.account_data(username="Alice.1")).account
    found = world.ctx.accounts.get_by_username("alice.1")
    assert found is not None and found.id == account.id
    assert world.ctx.accounts.get_by_username("nobody") is None


def test_account_lookup_by_primary_or_secondary_number(world: World) -> None:
    data = world.account_data(phone_number="+393476001000", secondary_phone_number="+393476001001")
    account = accounts.create_account(world.ctx, world.admin, data).account
    for number in ("+393476001000", "+393476001001"):
        found = world.ctx.accounts.get_by_number(number)
        assert found is not None and found.id == account.id
    assert world.ctx.accounts.get_by_number("+393476009999") is None


def test_console_sessions_slide_with_use_and_end_when_idle(world: World) -> None:
    clock = [datetime(2026, 11, 25, 12, 0, tzinfo=UTC)]
    ctx = replace(world.ctx, clock=lambda: clock[0])
    result = operators.login(ctx, {"username": "op-a", "password": "op-a-password"}, "10.0.0.9", "ua", idle_seconds=600)
    assert result.expires_at == clock[0] + timedelta(seconds=600)
    clock[0] += timedelta(seconds=500)
    assert operators.authenticate(ctx, result.token).username == "op-a"  # use slides the expiry
    clock[0] += timedelta(seconds=500)
    assert operators.authenticate(ctx, result.token).username == "op-a"
    clock[0] += timedelta(seconds=601)
    with pytest.raises(Unauthorized):
        operators.authenticate(ctx, result.token)


def test_a_logout_is_never_undone_by_a_late_expiry_update(ctx: Context) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ctx.sessions.add(Session("s" * 64, "operator-1", now, now + timedelta(minutes=30), 1800))
    ctx.sessions.extend("s" * 64, now + timedelta(minutes=40))
    extended = ctx.sessions.get("s" * 64)
    assert extended is not None and extended.expires_at == now + timedelta(minutes=40)
    ctx.sessions.remove("s" * 64)  # logout
    ctx.sessions.extend("s" * 64, now + timedelta(minutes=50))  # a request that read the session before
    assert ctx.sessions.get("s" * 64) is None


def test_revoked_tokens_stop_working(ctx: Context) -> None:
    from chalicelib.domain.provisioning import ProvisioningToken, Purpose

    now = datetime.now(UTC).replace(microsecond=0)
    for purpose, name in ((Purpose.ACTIVATE, "a"), (Purpose.DEVICE, "d")):
        ctx.tokens.issue(ProvisioningToken(name * 64, "acc-1", purpose, now, now + timedelta(hours=1)))
    ctx.tokens.revoke("acc-1", [Purpose.ACTIVATE])
    assert ctx.tokens.get("a" * 64) == (
        ProvisioningToken("a" * 64, "acc-1", Purpose.ACTIVATE, now, now + timedelta(hours=1)),
        False,
    )
    found = ctx.tokens.get("d" * 64)
    assert found is not None and found[1] is True


def test_a_new_password_ends_the_operators_other_sessions(world: World) -> None:
    clock = [datetime.now(UTC).replace(microsecond=0)]
    ctx = replace(world.ctx, clock=lambda: clock[0])
    old = operators.login(ctx, {"username": "op-a", "password": "op-a-password"}, "10.0.0.9", "ua")
    clock[0] += timedelta(seconds=5)
    operators.update_operator(ctx, world.admin, world.operator_a.id, {"password": "a-new-password-1"})
    with pytest.raises(Unauthorized):
        operators.authenticate(ctx, old.token)
    clock[0] += timedelta(seconds=5)
    new = operators.login(ctx, {"username": "op-a", "password": "a-new-password-1"}, "10.0.0.9", "ua")
    assert operators.authenticate(ctx, new.token).username == "op-a"


# --- batch import ports ----------------------------------------------------------------------------------------


def _batch_account(world: World, n: int, **fields: object) -> tuple[Account, TimelineEvent]:
    data = {"group_id": world.group_a.id, "phone_number": f"+39347700{n:04d}", "full_name": f"B{n}", **fields}
    result, event = accounts._prepare(world.ctx, world.admin, data, True, None)
    return result.account, event


def test_accounts_are_added_all_together_or_not_at_all(world: World) -> None:
    first, second, fine, clash = (_batch_account(world, n) for n in (1, 2, 3, 4))
    world.ctx.accounts.add_many([first[0], second[0]], [first[1], second[1]])
    taken_number = replace(clash[0], phone_number=second[0].phone_number)
    with pytest.raises(Conflict) as refused:
        world.ctx.accounts.add_many([fine[0], taken_number], [fine[1], clash[1]])
    assert refused.value.field == "phone_number"
    assert world.ctx.accounts.get(fine[0].id) is None  # nothing of the refused batch was written
    group = world.ctx.groups.get(world.group_a.id)
    assert group is not None and group.account_count == 2
    with pytest.raises(Conflict):
        world.ctx.accounts.add_many([first[0]], [first[1]])  # the same id twice


def test_taken_keys_and_get_many_read_in_batches(world: World) -> None:
    made = [_batch_account(world, n) for n in range(3)]
    world.ctx.accounts.add_many([a for a, _ in made], [e for _, e in made])
    numbers = [guards.number_key(a.phone_number) for a, _ in made]
    asked = [*numbers, guards.number_key("+393470000000"), guards.username_key(made[0][0].username.upper())]
    assert world.ctx.accounts.taken_keys(asked) == {*numbers, guards.username_key(made[0][0].username)}
    found = world.ctx.accounts.get_many([made[1][0].id, "missing", made[2][0].id])
    assert set(found) == {made[1][0].id, made[2][0].id}
    assert world.ctx.accounts.get_many([]) == {} and world.ctx.accounts.taken_keys([]) == set()


def test_import_jobs_are_created_once_and_advance_by_version(ctx: Context) -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    job = ImportJob(id="job-1", group_id="g", file_name="f.csv", created_by="admin", created_at=now,
                    policy="all_or_nothing", dry_run=False, status="pending")  # fmt: skip
    assert ctx.imports.add(job) is True
    assert ctx.imports.add(replace(job, file_name="other.csv")) is False
    running = job.bump(now, status="running")
    assert ctx.imports.replace(job, running) is True
    assert ctx.imports.replace(job, job.bump(now, status="failed")) is False  # a stale writer loses
    assert ctx.imports.get("job-1") == running
    assert [j.id for j in ctx.imports.recent(5, now)] == ["job-1"]


def test_import_files_stream_and_delete_by_prefix(ctx: Context) -> None:
    big = b"x" * (9 * 1024 * 1024 + 7)  # more than one multipart part on S3
    ctx.files.write("work/j/chunk-00000", [big[: 4 * 1024 * 1024], big[4 * 1024 * 1024 :]])
    ctx.files.write("work/j/chunk-00001", [b"small"])
    assert b"".join(ctx.files.read("work/j/chunk-00000")) == big
    info = ctx.files.info("work/j/chunk-00001")
    assert info is not None and (info.size, bool(info.etag)) == (5, True)
    ctx.files.delete_prefix("work/j/")
    assert ctx.files.info("work/j/chunk-00000") is None
    with pytest.raises(FileMissing):
        b"".join(ctx.files.read("work/j/chunk-00001"))
    form = ctx.files.upload_form("uploads/x.csv", 1024, 60)
    assert form["url"] and form["fields"]["key"] == "uploads/x.csv"


def test_a_registration_state_is_replaced_only_by_a_newer_one(world: World) -> None:
    t0 = datetime(2026, 11, 25, 12, tzinfo=UTC)
    on = Registration(account_id="a1", contact="sip:u@h", username="u", group_id=world.group_a.id, source="1.2.3.4:5",
                      transport="udp", user_agent="", registered_at=t0, expires_at=t0 + timedelta(minutes=10),
                      edge="e", changed_at=t0)  # fmt: skip
    off = replace(on, active=False, changed_at=t0 + timedelta(seconds=30))
    assert world.ctx.registrations.put(off) is True
    assert world.ctx.registrations.put(on) is False  # older: refused
    assert world.ctx.registrations.for_account("a1") == [off]
    assert world.ctx.registrations.online_in_group(world.group_a.id, 10, None).items == []
    later = replace(on, changed_at=t0 + timedelta(minutes=1), registered_at=t0 + timedelta(minutes=1))
    assert world.ctx.registrations.put(later) is True
    assert world.ctx.registrations.online_in_group(world.group_a.id, 10, None).items == [later]
