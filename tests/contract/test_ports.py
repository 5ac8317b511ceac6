"""One contract class per storage and messaging port, run on the in-memory fake and on moto (the `ctx` fixture is
parametrised over both backends): each method's documented results and errors, called on the port itself.

The search port's contract is tests/contract/test_search_conformance.py (memory and tantivy; moto has no
OpenSearch). The SMS queue's SQS twin is built here on moto, since contexts wire SQS for it only when configured.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.adapters.memory import MemoryQueue, MemoryTasks
from chalicelib.adapters.sqs import SqsQueue, SqsTasks
from chalicelib.domain.errors import ConcurrentModification, Conflict, FileMissing, NotFound, StaleReference
from chalicelib.domain.import_job import ImportJob
from chalicelib.domain.licensing import CachedLicence
from chalicelib.domain.model import (
    Account,
    AccountStatus,
    AccountType,
    CreationMode,
    Group,
    Operator,
    ProvisioningProfile,
    Role,
    SecurityModel,
    TimelineEvent,
    Transport,
)
from chalicelib.domain.provisioning import MessageStatus, ProvisioningToken, Purpose, QueuedSms, SmsMessage
from chalicelib.domain.registration import Registration
from chalicelib.services import guards
from chalicelib.services.context import Context

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _id() -> str:
    return uuid.uuid4().hex


def a_profile(**fields: Any) -> ProvisioningProfile:
    values: dict[str, Any] = {"id": _id(), "name": f"profile {_id()[:6]}", "sip_domain": "voice.example.com",
                              "sip_host": "sip.example.com", "tls_port": 5061, "tcp_port": None, "udp_port": None,
                              "default_transport": Transport.TLS, "android_url": "", "ios_url": "", "other_url": "",
                              "created_at": NOW, "updated_at": NOW}  # fmt: skip
    return ProvisioningProfile(**{**values, **fields})


def a_group(profile: ProvisioningProfile, **fields: Any) -> Group:
    values: dict[str, Any] = {"id": _id(), "name": f"group {_id()[:6]}", "it_email": "it@example.com",
                              "provisioning_profile_id": profile.id, "enabled": True, "account_count": 0,
                              "created_at": NOW, "updated_at": NOW}  # fmt: skip
    return Group(**{**values, **fields})


def an_operator(**fields: Any) -> Operator:
    values: dict[str, Any] = {"id": _id(), "username": f"op-{_id()[:8]}", "role": Role.OPERATOR,
                              "group_ids": frozenset({"g1"}), "enabled": True, "password_hash": "h",
                              "created_at": NOW, "updated_at": NOW}  # fmt: skip
    return Operator(**{**values, **fields})


def an_account(group: Group, number: int, **fields: Any) -> Account:
    values: dict[str, Any] = {"id": _id(), "username": f"user{number}", "group_id": group.id,
                              "provisioning_profile_id": group.provisioning_profile_id,
                              "phone_number": f"+3934770{number:05d}", "secondary_phone_number": None,
                              "account_type": AccountType.PGSM, "security_model": SecurityModel.SDES,
                              "obfuscation_enabled": True, "obfuscation_key": "9", "keep_alive": False,
                              "permit": (), "deny": (), "full_name": "", "email": "", "description": "",
                              "enabled": True, "status": AccountStatus.CREATED, "status_changed_at": NOW,
                              "created_at": NOW, "updated_at": NOW, "creation_mode": CreationMode.PLAIN,
                              "credentials": None}  # fmt: skip
    return Account(**{**values, **fields})


def created(account: Account) -> TimelineEvent:
    return TimelineEvent(account.id, NOW, "created", "tester", {"mode": "plain"})


class Setup:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.profile = a_profile()
        ctx.profiles.add(self.profile)
        self.group = a_group(self.profile)
        ctx.groups.add(self.group)

    def account(self, number: int, **fields: Any) -> Account:
        account = an_account(self.group, number, **fields)
        self.ctx.accounts.add(account, created(account))
        return account

    def count(self) -> int:
        group = self.ctx.groups.get(self.group.id)
        assert group is not None
        return group.account_count


@pytest.fixture
def setup(ctx: Context) -> Setup:
    return Setup(ctx)


class TestAccounts:
    def test_add_then_read_by_id_username_and_numbers(self, setup: Setup) -> None:
        account = setup.account(1, username="Alice.1", secondary_phone_number="+393477099999")
        assert setup.ctx.accounts.get(account.id) == account
        assert setup.ctx.accounts.get_by_username("alice.1") == account
        assert setup.ctx.accounts.get_by_number("+393477099999") == account
        assert setup.ctx.accounts.get_by_number(account.phone_number) == account
        assert setup.ctx.accounts.get("missing") is None and setup.ctx.accounts.get_by_username("x") is None
        assert setup.count() == 1

    def test_add_refuses_taken_values_missing_references_and_existing_ids(self, setup: Setup) -> None:
        first = setup.account(1)
        cases: list[tuple[Account, type[Exception], str]] = [
            (an_account(setup.group, 2, username="USER1"), Conflict, "username"),
            (an_account(setup.group, 1, username="other"), Conflict, "phone_number"),
            (an_account(setup.group, 3, group_id="missing"), NotFound, "group_id"),
            (an_account(setup.group, 4, provisioning_profile_id="missing"), StaleReference, "provisioning_profile_id"),
            (replace(an_account(setup.group, 5), id=first.id), Conflict, "id"),
        ]
        for account, error, field in cases:
            with pytest.raises(error) as refused:
                setup.ctx.accounts.add(account, created(account))
            assert refused.value.field == field  # type: ignore[attr-defined]
        assert setup.count() == 1 and setup.ctx.accounts.get_by_username("other") is None

    def test_list_by_group_is_ordered_by_username_and_pages(self, setup: Setup) -> None:
        made = [setup.account(n, username=f"u{n}") for n in (3, 1, 2)]
        first = setup.ctx.accounts.list_by_group(setup.group.id, 2, None)
        assert [a.username for a in first.items] == ["u1", "u2"] and first.next_cursor
        rest = setup.ctx.accounts.list_by_group(setup.group.id, 2, first.next_cursor)
        assert [a.username for a in rest.items] == ["u3"] and rest.next_cursor is None
        assert len(made) == 3
        with pytest.raises(ValueError):
            setup.ctx.accounts.list_by_group(setup.group.id, 2, "not-a-cursor")

    def test_replace_moves_guards_and_counters_and_refuses_stale_versions(self, setup: Setup) -> None:
        account = setup.account(1)
        other = a_group(setup.profile)
        setup.ctx.groups.add(other)
        moved = replace(account, username="renamed", group_id=other.id, version=2)
        setup.ctx.accounts.replace(account, moved, created(account))
        assert setup.ctx.accounts.get_by_username("user1") is None
        assert setup.ctx.accounts.get_by_username("renamed") == moved
        stored = setup.ctx.groups.get(other.id)
        assert setup.count() == 0 and stored is not None and stored.account_count == 1
        with pytest.raises(ConcurrentModification):
            setup.ctx.accounts.replace(account, replace(moved, version=3), created(account))
        taken = setup.account(2)
        with pytest.raises(Conflict) as refused:
            setup.ctx.accounts.replace(moved, replace(moved, username=taken.username, version=3), created(moved))
        assert refused.value.field == "username"

    def test_remove_frees_guards_and_refuses_stale_versions(self, setup: Setup) -> None:
        account = setup.account(1)
        with pytest.raises(ConcurrentModification):
            setup.ctx.accounts.remove(replace(account, version=7), created(account))
        setup.ctx.accounts.remove(account, created(account))
        assert setup.ctx.accounts.get(account.id) is None and setup.count() == 0
        assert setup.ctx.accounts.taken_keys([guards.username_key("user1")]) == set()
        with pytest.raises(ConcurrentModification):
            setup.ctx.accounts.remove(account, created(account))

    def test_timeline_is_newest_first_and_stores_an_event_id_once(self, setup: Setup) -> None:
        account = setup.account(1)
        later = TimelineEvent(account.id, NOW + timedelta(seconds=5), "sip", "edge", {"x": "1"}, event_id="ev-1")
        setup.ctx.accounts.append_event(later)
        setup.ctx.accounts.append_event(later)
        assert [e.kind for e in setup.ctx.accounts.timeline(account.id, 10)] == ["sip", "created"]
        assert [e.kind for e in setup.ctx.accounts.timeline(account.id, 1)] == ["sip"]

    def test_profile_in_use_taken_keys_and_get_many(self, setup: Setup) -> None:
        account = setup.account(1)
        assert setup.ctx.accounts.profile_in_use(setup.profile.id) is True
        assert setup.ctx.accounts.profile_in_use("other") is False
        keys = [guards.username_key("user1"), guards.number_key(account.phone_number), guards.username_key("free")]
        assert setup.ctx.accounts.taken_keys(keys) == set(keys[:2])
        assert setup.ctx.accounts.get_many([account.id, "missing"]) == {account.id: account}

    def test_add_many_writes_all_or_nothing(self, setup: Setup) -> None:
        batch = [an_account(setup.group, n) for n in (1, 2)]
        setup.ctx.accounts.add_many(batch, [created(a) for a in batch])
        clash = [an_account(setup.group, 3), an_account(setup.group, 2, username="fresh")]
        with pytest.raises(Conflict) as refused:
            setup.ctx.accounts.add_many(clash, [created(a) for a in clash])
        assert refused.value.field == "phone_number"
        assert setup.ctx.accounts.get(clash[0].id) is None and setup.count() == 2


class TestGroups:
    def test_add_get_and_list(self, setup: Setup) -> None:
        assert setup.ctx.groups.get(setup.group.id) == setup.group
        assert setup.ctx.groups.get("missing") is None
        second = a_group(setup.profile)
        setup.ctx.groups.add(second)
        page = setup.ctx.groups.list(1, None)
        rest = setup.ctx.groups.list(10, page.next_cursor)
        assert {g.id for g in page.items + rest.items} == {setup.group.id, second.id}

    def test_add_refuses_taken_names_missing_profiles_and_existing_ids(self, setup: Setup) -> None:
        cases: list[tuple[Group, type[Exception], str | None]] = [
            (a_group(setup.profile, name=setup.group.name.upper()), Conflict, "name"),
            (a_group(setup.profile, provisioning_profile_id="missing"), NotFound, "provisioning_profile_id"),
            (replace(a_group(setup.profile), id=setup.group.id), Conflict, "id"),
        ]
        for group, error, field in cases:
            with pytest.raises(error) as refused:
                setup.ctx.groups.add(group)
            assert refused.value.field == field  # type: ignore[attr-defined]
        assert [g.id for g in setup.ctx.groups.list(10, None).items] == [setup.group.id]

    def test_replace_keeps_the_account_counter_and_refuses_stale_versions(self, setup: Setup) -> None:
        setup.account(1)
        renamed = replace(setup.group, name="renamed", account_count=0, version=2)
        setup.ctx.groups.replace(setup.group, renamed)
        stored = setup.ctx.groups.get(setup.group.id)
        assert stored is not None and (stored.name, stored.account_count) == ("renamed", 1)
        with pytest.raises(ConcurrentModification):
            setup.ctx.groups.replace(setup.group, replace(renamed, version=3))
        with pytest.raises(NotFound):
            setup.ctx.groups.replace(renamed, replace(renamed, provisioning_profile_id="missing", version=3))

    def test_remove_refuses_groups_with_accounts_and_missing_groups(self, setup: Setup) -> None:
        account = setup.account(1)
        with pytest.raises(Conflict) as refused:
            setup.ctx.groups.remove(setup.group)
        assert refused.value.code == "group_not_empty"
        setup.ctx.accounts.remove(account, created(account))
        setup.ctx.groups.remove(setup.group)
        assert setup.ctx.groups.get(setup.group.id) is None
        with pytest.raises(NotFound):
            setup.ctx.groups.remove(setup.group)
        setup.ctx.groups.add(replace(a_group(setup.profile), name=setup.group.name))  # the name is free again

    def test_profile_in_use(self, setup: Setup) -> None:
        assert setup.ctx.groups.profile_in_use(setup.profile.id) is True
        assert setup.ctx.groups.profile_in_use("other") is False


class TestProfiles:
    def test_add_get_list_replace_remove(self, ctx: Context) -> None:
        profile = a_profile(transports=(Transport.TLS, Transport.UDP), udp_port=5060)
        ctx.profiles.add(profile)
        assert ctx.profiles.get(profile.id) == profile and ctx.profiles.get("missing") is None
        assert [p.id for p in ctx.profiles.list(10, None).items] == [profile.id]
        changed = replace(profile, name="renamed", version=2)
        ctx.profiles.replace(profile, changed)
        assert ctx.profiles.get(profile.id) == changed
        with pytest.raises(ConcurrentModification):
            ctx.profiles.replace(profile, replace(changed, version=3))
        with pytest.raises(ConcurrentModification):
            ctx.profiles.remove(profile)
        ctx.profiles.remove(changed)
        assert ctx.profiles.get(profile.id) is None

    def test_add_refuses_taken_names_and_existing_ids(self, ctx: Context) -> None:
        profile = a_profile()
        ctx.profiles.add(profile)
        for clash, field in (
            (a_profile(name=profile.name.upper()), "name"),
            (replace(a_profile(), id=profile.id), "id"),
        ):
            with pytest.raises(Conflict) as refused:
                ctx.profiles.add(clash)
            assert refused.value.field == field


class TestOperators:
    def test_add_get_list_replace_remove(self, ctx: Context) -> None:
        operator = an_operator(username="Mixed.Case")
        ctx.operators.add(operator)
        assert ctx.operators.get(operator.id) == operator
        assert ctx.operators.get_by_username("mixed.case") == operator
        assert [o.id for o in ctx.operators.list(10, None).items] == [operator.id]
        changed = replace(operator, role=Role.VIEWER, version=2)
        ctx.operators.replace(operator, changed)
        with pytest.raises(ConcurrentModification):
            ctx.operators.replace(operator, replace(changed, version=3))
        ctx.operators.remove(changed)
        assert ctx.operators.get(operator.id) is None and ctx.operators.get_by_username("mixed.case") is None

    def test_add_refuses_taken_usernames_and_existing_ids(self, ctx: Context) -> None:
        operator = an_operator()
        ctx.operators.add(operator)
        clashes = (
            (an_operator(username=operator.username.upper()), "username"),
            (replace(an_operator(), id=operator.id), "id"),
        )
        for clash, field in clashes:
            with pytest.raises(Conflict) as refused:
                ctx.operators.add(clash)
            assert refused.value.field == field


class TestTokens:
    def test_the_latest_token_of_a_purpose_is_the_valid_one(self, ctx: Context) -> None:
        old = ProvisioningToken("a" * 64, "acc", Purpose.ACTIVATE, NOW, NOW + timedelta(hours=1))
        new = replace(old, token_hash="b" * 64)
        ctx.tokens.issue(old)
        assert ctx.tokens.get(old.token_hash) == (old, True)
        ctx.tokens.issue(new)
        assert ctx.tokens.get(old.token_hash) == (old, False) and ctx.tokens.get(new.token_hash) == (new, True)
        assert ctx.tokens.get("c" * 64) is None
        ctx.tokens.revoke("acc", [Purpose.ACTIVATE])
        assert ctx.tokens.get(new.token_hash) == (new, False)

    def test_a_token_is_consumed_once(self, ctx: Context) -> None:
        token = ProvisioningToken("d" * 64, "acc", Purpose.INSTALL, NOW, NOW + timedelta(hours=1))
        ctx.tokens.issue(token)
        ctx.tokens.consume(token.token_hash, NOW)
        found = ctx.tokens.get(token.token_hash)
        assert found is not None and found[0].used_at == NOW
        for token_hash in (token.token_hash, "e" * 64):
            with pytest.raises(Conflict) as refused:
                ctx.tokens.consume(token_hash, NOW)
            assert refused.value.code == "link_used"


def a_message(at: datetime, **fields: Any) -> SmsMessage:
    values: dict[str, Any] = {"id": _id(), "account_id": "acc", "to": "+393470000001", "body": "text",
                              "purpose": Purpose.INSTALL, "status": MessageStatus.QUEUED, "created_at": at,
                              "updated_at": at}  # fmt: skip
    return SmsMessage(**{**values, **fields})


class TestMessages:
    def test_add_get_and_conditional_update(self, ctx: Context) -> None:
        message = a_message(NOW)
        ctx.messages.add(message)
        assert ctx.messages.get(message.id) == message and ctx.messages.get("missing") is None
        sent = replace(message, status=MessageStatus.SENT, provider_id="SM1", attempts=1)
        assert ctx.messages.update(sent, MessageStatus.QUEUED) is True
        assert ctx.messages.update(replace(sent, status=MessageStatus.FAILED), MessageStatus.QUEUED) is False
        assert ctx.messages.get(message.id) == sent

    def test_adding_a_message_twice_is_a_conflict(self, ctx: Context) -> None:
        message = a_message(NOW)
        ctx.messages.add(message)
        with pytest.raises(Conflict) as refused:
            ctx.messages.add(replace(message, body="other"))
        assert refused.value.field == "id" and ctx.messages.get(message.id) == message

    def test_recent_covers_this_month_and_the_last_by_the_given_clock(self, ctx: Context) -> None:
        ages = {"now": 0, "last-month": 31, "older": 70}
        made = {name: a_message(NOW - timedelta(days=days)) for name, days in ages.items()}
        for message in made.values():
            ctx.messages.add(message)
        assert [m.id for m in ctx.messages.recent(10, NOW)] == [made["now"].id, made["last-month"].id]
        assert [m.id for m in ctx.messages.recent(1, NOW)] == [made["now"].id]
        earlier = NOW - timedelta(days=40)  # October: October and September
        assert [m.id for m in ctx.messages.recent(10, earlier)] == [made["last-month"].id, made["older"].id]

    def test_for_account_is_newest_first(self, ctx: Context) -> None:
        first, second = a_message(NOW), a_message(NOW + timedelta(seconds=1))
        for message in (first, second, a_message(NOW, account_id="other")):
            ctx.messages.add(message)
        assert [m.id for m in ctx.messages.for_account("acc", 10)] == [second.id, first.id]


class TestLicences:
    def test_put_and_get(self, ctx: Context) -> None:
        assert ctx.licences.get("acc") is None
        cached = CachedLicence("acc", None, None, "down", NOW, 2, NOW + timedelta(minutes=1))
        ctx.licences.put(cached)
        assert ctx.licences.get("acc") == cached

    def test_one_lease_holder_until_it_expires_or_is_released(self, ctx: Context) -> None:
        until = NOW + timedelta(seconds=30)
        assert ctx.licences.acquire_lease("acc", until, NOW) is True
        assert ctx.licences.acquire_lease("acc", until, NOW + timedelta(seconds=1)) is False
        assert ctx.licences.acquire_lease("acc", until + timedelta(seconds=60), until + timedelta(seconds=1)) is True
        ctx.licences.release_lease("acc")
        assert ctx.licences.acquire_lease("acc", until, NOW) is True


def a_job(at: datetime, **fields: Any) -> ImportJob:
    return ImportJob(id=_id(), group_id="g", file_name="f.csv", created_by="admin", created_at=at,
                     policy="all_or_nothing", dry_run=False, status="pending", **fields)  # fmt: skip


class TestImports:
    def test_add_once_and_replace_by_version(self, ctx: Context) -> None:
        job = a_job(NOW)
        assert ctx.imports.add(job) is True and ctx.imports.add(replace(job, file_name="other")) is False
        running = job.bump(NOW, status="running")
        assert ctx.imports.replace(job, running) is True
        assert ctx.imports.replace(job, job.bump(NOW, status="failed")) is False
        assert ctx.imports.get(job.id) == running and ctx.imports.get("missing") is None

    def test_recent_covers_this_month_and_the_last_by_the_given_clock(self, ctx: Context) -> None:
        jobs = [a_job(NOW - timedelta(days=days)) for days in (0, 31, 70)]
        for job in jobs:
            ctx.imports.add(job)
        assert [j.id for j in ctx.imports.recent(10, NOW)] == [jobs[0].id, jobs[1].id]


def a_registration(at: datetime, **fields: Any) -> Registration:
    values: dict[str, Any] = {"account_id": "a1", "contact": "sip:u@h", "username": "u", "group_id": "g1",
                              "source": "1.2.3.4:5", "transport": "udp", "user_agent": "", "registered_at": at,
                              "expires_at": at + timedelta(minutes=10), "edge": "e", "changed_at": at}  # fmt: skip
    return Registration(**{**values, **fields})


class TestRegistrations:
    def test_only_a_newer_state_replaces_a_contact(self, ctx: Context) -> None:
        on = a_registration(NOW)
        off = replace(on, active=False, changed_at=NOW + timedelta(seconds=30))
        assert ctx.registrations.put(off) is True and ctx.registrations.put(on) is False
        assert ctx.registrations.for_account("a1") == [off] and ctx.registrations.for_account("a2") == []

    def test_online_in_group_lists_active_contacts_by_username_and_pages(self, ctx: Context) -> None:
        made = [a_registration(NOW, account_id=f"a{n}", username=f"u{n}") for n in (2, 1, 3)]
        for registration in [*made, a_registration(NOW, account_id="a9", username="u0", active=False)]:
            ctx.registrations.put(registration)
        page = ctx.registrations.online_in_group("g1", 2, None)
        rest = ctx.registrations.online_in_group("g1", 2, page.next_cursor)
        assert [r.username for r in page.items + rest.items] == ["u1", "u2", "u3"] and rest.next_cursor is None
        with pytest.raises(ValueError):
            ctx.registrations.online_in_group("g1", 2, "not-a-cursor")


class TestFiles:
    def test_write_read_info_and_delete_by_prefix(self, ctx: Context) -> None:
        ctx.files.write("work/j/a", [b"abc", b"def"])
        assert b"".join(ctx.files.read("work/j/a")) == b"abcdef"
        info = ctx.files.info("work/j/a")
        assert info is not None and info.size == 6 and info.etag
        assert ctx.files.info("work/j/missing") is None
        ctx.files.delete_prefix("work/j/")
        with pytest.raises(FileMissing):
            b"".join(ctx.files.read("work/j/a"))

    def test_upload_form_names_the_key(self, ctx: Context) -> None:
        form = ctx.files.upload_form("uploads/x.csv", 1024, 60)
        assert form["url"] and form["fields"]["key"] == "uploads/x.csv"


Receive = Callable[[], list[str]]


@pytest.fixture(params=["memory", "sqs"])
def queues(request: pytest.FixtureRequest) -> tuple[Any, Any, Receive, Receive]:
    """An SMS queue and a task queue with a reader of what each holds, in memory or on SQS (moto)."""
    if request.param == "memory":
        sms, tasks = MemoryQueue(), MemoryTasks()
        return (
            sms,
            tasks,
            lambda: [json.dumps(vars(m)) for m in sms.waiting],
            lambda: [json.dumps(t) for t in tasks.tasks],
        )
    url = request.getfixturevalue("moto_url")
    client = boto3.client("sqs", endpoint_url=url, region_name="eu-west-1")
    sms_url = client.create_queue(QueueName=f"s{_id()}")["QueueUrl"]
    task_url = client.create_queue(QueueName=f"t{_id()}")["QueueUrl"]

    def reader(queue_url: str) -> Receive:
        def receive() -> list[str]:
            found = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            return [m["Body"] for m in found]

        return receive

    return (SqsQueue(sms_url, "eu-west-1", url), SqsTasks(task_url, "eu-west-1", url),
            reader(sms_url), reader(task_url))  # fmt: skip


class TestQueues:
    def test_queued_messages_carry_their_content(self, queues: tuple[Any, Any, Receive, Receive]) -> None:
        sms, tasks, sms_held, tasks_held = queues
        sms.enqueue(QueuedSms("m1", "Install: https://x/1"))
        tasks.send({"job_id": "j1", "step": "validate"})
        assert [json.loads(b) for b in sms_held()] == [{"message_id": "m1", "text": "Install: https://x/1"}]
        assert [json.loads(b) for b in tasks_held()] == [{"job_id": "j1", "step": "validate"}]
