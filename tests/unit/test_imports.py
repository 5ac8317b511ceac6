"""The batch import's validate-then-apply core, on both storage backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.domain.errors import Forbidden, ValidationFailed
from chalicelib.domain.model import CreationMode
from chalicelib.services import accounts, imports
from chalicelib.services.imports import ImportOptions, Policy
from tests.conftest import World

MANUAL_CSV = Path(__file__).resolve().parents[1] / "fixtures" / "batch-users.csv"  # the manual's example, as is
HEADER = "fullName,gsmNumber,email,securityModel,description\n"


def source(text: str, chunk: int = 16) -> imports.Source:
    data = text.encode()
    return lambda: (data[i : i + chunk] for i in range(0, len(data), chunk))


def listed(world: World) -> list[str]:
    return sorted(
        a.full_name for a in accounts.list_accounts(world.ctx, world.admin, world.group_a.id, 200, None).items
    )


def test_the_manuals_file_imports_as_it_is(world: World) -> None:
    data = MANUAL_CSV.read_bytes()
    report = imports.run_import(world.ctx, world.admin, world.group_a.id, lambda: [data])
    assert (report.rows, report.valid, report.created, report.errors) == (4, 4, 4, [])
    assert listed(world) == ["Alessandro Bergamaschi", "Luigi Rossi", "Marco Bianchi", "Mario Colombo"]
    created = accounts.get_account(world.ctx, world.admin, accounts.list_accounts(
        world.ctx, world.admin, world.group_a.id, 1, None).items[0].id)  # fmt: skip
    assert (created.creation_mode, created.enabled, created.credentials) == (CreationMode.BATCH, False, None)


BAD = HEADER + (
    "Ok One,+393471000001,,end-to-site,\n"
    "Dup,+393471000001,,end-to-site,\n"
    "Bad Mail,+393471000002,nope,end-to-end,\n"
    "Taken,+393479999999,,end-to-site,\n"
    "Ok Two,+393471000003,,end-to-end,\n"
)


def test_a_dry_run_reports_every_problem_and_writes_nothing(world: World) -> None:
    accounts.create_account(world.ctx, world.admin, world.account_data(phone_number="+393479999999", full_name="Old"))
    report = imports.run_import(world.ctx, world.admin, world.group_a.id, source(BAD), ImportOptions(dry_run=True))
    assert (report.rows, report.valid, report.created, report.skipped) == (5, 2, 0, 5)
    assert [(e.row, e.field, e.code) for e in report.errors] == [
        (3, "gsmNumber", "duplicate_in_file"), (4, "email", "invalid_email"), (5, "gsmNumber", "number_taken"),
    ]  # fmt: skip
    assert listed(world) == ["Old"]


def test_all_or_nothing_creates_nothing_when_a_record_is_bad(world: World) -> None:
    report = imports.run_import(world.ctx, world.admin, world.group_a.id, source(BAD))
    assert (report.created, report.skipped) == (0, 5)
    assert listed(world) == []


def test_skip_invalid_creates_the_valid_records(world: World) -> None:
    accounts.create_account(world.ctx, world.admin, world.account_data(phone_number="+393479999999", full_name="Old"))
    report = imports.run_import(
        world.ctx, world.admin, world.group_a.id, source(BAD), ImportOptions(policy=Policy.SKIP_INVALID)
    )
    assert (report.valid, report.created, report.skipped, report.failed) == (2, 2, 3, 0)
    assert sorted(report.created_usernames) == [2, 6]
    assert listed(world) == ["Ok One", "Ok Two", "Old"]


def test_importing_the_same_file_twice_creates_no_duplicates(world: World) -> None:
    data = MANUAL_CSV.read_bytes()
    imports.run_import(world.ctx, world.admin, world.group_a.id, lambda: [data])
    again = imports.run_import(
        world.ctx, world.admin, world.group_a.id, lambda: [data], ImportOptions(policy=Policy.SKIP_INVALID)
    )
    assert (again.valid, again.created) == (0, 0)
    assert {e.code for e in again.errors} == {"number_taken"}
    assert len(listed(world)) == 4


def test_installation_sms_can_follow_creation(world: World) -> None:
    report = imports.run_import(world.ctx, world.admin, world.group_a.id, source(HEADER + "A,+393471000009,,,\n"),
                                ImportOptions(send_installation_sms=True))  # fmt: skip
    (username,) = report.created_usernames.values()
    account = world.ctx.accounts.get_by_username(username)
    assert account is not None and account.status.value == "installation_sms_sent"


def test_unreadable_files_and_foreign_groups(world: World) -> None:
    with pytest.raises(ValidationFailed) as exc:
        imports.run_import(world.ctx, world.admin, world.group_a.id, source("name,number\n"))
    assert exc.value.errors[0].code == "unreadable_file"
    with pytest.raises(Forbidden):
        imports.run_import(world.ctx, world.operator_a, world.group_b.id, source(BAD))
