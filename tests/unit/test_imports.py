"""The import pipeline (validate, apply in chunks through the work queue, finish), on both storage backends:
memory, and DynamoDB + S3 + SQS on moto."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.errors import Forbidden, ValidationFailed
from chalicelib.domain.import_job import ImportJob
from chalicelib.domain.model import AccountStatus, CreationMode
from chalicelib.handlers import imports as import_handlers
from chalicelib.services import accounts, imports
from chalicelib.services.imports import ImportOptions, Policy
from tests.conftest import World, drain_imports

MANUAL_CSV = Path(__file__).resolve().parents[1] / "fixtures" / "batch-users.csv"  # the manual's example, as is
HEADER = "fullName,gsmNumber,email,securityModel,description\n"


def run(world: World, data: bytes | str, options: ImportOptions = imports.DEFAULT_OPTIONS, **kw: Any) -> ImportJob:
    raw = data.encode() if isinstance(data, str) else data
    job = imports.submit_upload(world.ctx, kw.get("actor", world.admin), world.group_a.id, "f.csv", raw, options)
    assert job.status == "pending"
    drain_imports(world.ctx)
    stored = world.ctx.imports.get(job.id)
    assert stored is not None
    return stored


def listed(world: World) -> list[str]:
    return sorted(
        a.full_name for a in accounts.list_accounts(world.ctx, world.admin, world.group_a.id, 200, None).items
    )


def result_rows(world: World, job: ImportJob) -> list[dict[str, str]]:
    text = b"".join(imports.result_file(world.ctx, world.admin, job.id)).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_manuals_file_imports_as_it_is(world: World) -> None:
    job = run(world, MANUAL_CSV.read_bytes())
    assert (job.status, job.rows, job.valid, job.created, job.errors) == ("completed", 4, 4, 4, ())
    assert listed(world) == ["Alessandro Bergamaschi", "Luigi Rossi", "Marco Bianchi", "Mario Colombo"]
    some = accounts.list_accounts(world.ctx, world.admin, world.group_a.id, 1, None).items[0]
    assert (some.creation_mode, some.enabled, some.credentials) == (CreationMode.BATCH, False, None)
    rows = result_rows(world, job)
    assert [(r["record"], r["outcome"]) for r in rows] == [("2", "created"), ("3", "created"), ("4", "created"),
                                                           ("5", "created")]  # fmt: skip
    usernames = {a.username for a in accounts.list_accounts(world.ctx, world.admin, world.group_a.id, 9, None).items}
    assert {r["created_username"] for r in rows} == usernames
    assert world.ctx.files.info(f"work/{job.id}/chunk-00000") is None  # the staging is cleaned up


BAD = HEADER + (
    "Ok One,+393471000001,,end-to-site,\n"
    "Dup,+393471000001,,end-to-site,\n"
    "Bad Mail,+393471000002,nope,end-to-end,\n"
    "Taken,+393479999999,,end-to-site,\n"
    "Ok Two,+393471000003,,end-to-end,\n"
)


def test_a_dry_run_reports_every_problem_and_writes_nothing(world: World) -> None:
    accounts.create_account(world.ctx, world.admin, world.account_data(phone_number="+393479999999", full_name="Old"))
    job = run(world, BAD, ImportOptions(dry_run=True))
    assert (job.rows, job.valid, job.created, job.skipped) == (5, 2, 0, 5)
    assert [(e.row, e.field, e.code) for e in job.errors] == [
        (3, "gsmNumber", "duplicate_in_file"), (4, "email", "invalid_email"), (5, "gsmNumber", "number_taken"),
    ]  # fmt: skip
    assert listed(world) == ["Old"]
    assert [(r["record"], r["outcome"]) for r in result_rows(world, job)] == [
        ("2", "valid (dry run)"), ("3", "invalid"), ("4", "invalid"), ("5", "invalid"), ("6", "valid (dry run)"),
    ]  # fmt: skip


def test_all_or_nothing_creates_nothing_when_a_record_is_bad(world: World) -> None:
    job = run(world, BAD)
    assert (job.status, job.created, job.skipped, job.errors_total) == ("rejected", 0, 5, 2)
    assert "no account was created" in job.message and job.result_key  # the result file says which records
    assert listed(world) == []


def test_skip_invalid_creates_the_valid_records_in_chunks(world: World) -> None:
    world.ctx.settings = replace(world.ctx.settings, import_chunk_rows=1)
    job = run(world, BAD, ImportOptions(policy=Policy.SKIP_INVALID))
    assert (job.rows, job.valid, job.created, job.failed, job.skipped, job.chunks) == (5, 3, 3, 0, 2, 3)
    assert listed(world) == ["Ok One", "Ok Two", "Taken"]
    outcomes = [(r["record"], r["outcome"], bool(r["created_username"])) for r in result_rows(world, job)]
    assert outcomes == [("2", "created", True), ("3", "invalid", False), ("4", "invalid", False),
                        ("5", "created", True), ("6", "created", True)]  # fmt: skip


def test_importing_the_same_file_twice_creates_no_duplicates(world: World) -> None:
    data = MANUAL_CSV.read_bytes()
    run(world, data)
    again = run(world, data, ImportOptions(policy=Policy.SKIP_INVALID))
    assert (again.created, again.valid, {e.code for e in again.errors}) == (0, 0, {"number_taken"})
    assert len(listed(world)) == 4


def test_installation_sms_can_follow_creation(world: World) -> None:
    job = run(world, HEADER + "A,+393471000009,,,\n", ImportOptions(send_installation_sms=True))
    assert job.created == 1
    [account] = accounts.list_accounts(world.ctx, world.admin, world.group_a.id, 5, None).items
    assert account.status is AccountStatus.INSTALLATION_SMS_SENT


def test_unreadable_files_fail_the_job_and_foreign_groups_are_refused(world: World) -> None:
    job = run(world, "name,number\n")
    assert job.status == "failed" and "lacks fullName" in job.message
    with pytest.raises(Forbidden):
        imports.submit_upload(world.ctx, world.operator_a, world.group_b.id, "f.csv", BAD.encode(),
                              imports.DEFAULT_OPTIONS)  # fmt: skip
    with pytest.raises(ValidationFailed):
        imports.submit_upload(world.ctx, world.admin, world.group_a.id, "f.csv", b"x", ImportOptions(profile_id="no"))


@pytest.mark.both_backends
def test_a_crash_in_the_middle_of_a_chunk_resumes_without_duplicates(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.ctx.settings = replace(world.ctx.settings, import_chunk_rows=6)
    monkeypatch.setattr(accounts, "BATCH_TRANSACTION", 2)  # three transactions per chunk
    rows = "".join(f"Person {n:02d},+39347100{n:04d},,end-to-site,\n" for n in range(12))
    job = imports.submit_upload(world.ctx, world.admin, world.group_a.id, "f.csv", (HEADER + rows).encode(),
                                ImportOptions(send_installation_sms=True))  # fmt: skip
    real = world.ctx.accounts.add_many
    calls = {"n": 0}

    def crashing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 5:  # the second transaction of the second chunk: the Lambda dies here
            raise RuntimeError("Lambda timed out")
        return real(*args, **kwargs)

    monkeypatch.setattr(world.ctx.accounts, "add_many", crashing)
    with pytest.raises(RuntimeError):
        drain_imports(world.ctx)
    halfway = world.ctx.imports.get(job.id)
    assert halfway is not None and (halfway.status, halfway.next_chunk, halfway.created) == ("running", 1, 6)
    assert len(listed(world)) == 8  # all of chunk 0, the first transaction of chunk 1
    drain_imports(world.ctx)  # the step is delivered again
    done = world.ctx.imports.get(job.id)
    assert done is not None and (done.status, done.created, done.failed, done.errors) == ("completed", 12, 0, ())
    assert listed(world) == [f"Person {n:02d}" for n in range(12)]
    created = accounts.list_accounts(world.ctx, world.admin, world.group_a.id, 20, None).items
    assert {a.status for a in created} == {AccountStatus.INSTALLATION_SMS_SENT}  # each got its SMS once
    assert len(world.ctx.messages.recent(50, world.ctx.clock())) == 12
    group = world.ctx.groups.get(world.group_a.id)
    assert group is not None and group.account_count == 12


def test_a_number_taken_between_validation_and_creation_fails_only_its_row(world: World) -> None:
    job = imports.submit_upload(world.ctx, world.admin, world.group_a.id, "f.csv", MANUAL_CSV.read_bytes(),
                                imports.DEFAULT_OPTIONS)  # fmt: skip
    task = world.ctx.tasks
    drain_imports(world.ctx, steps=1)  # validated and staged; the accounts are not created yet
    first = next(csv.reader(io.StringIO(MANUAL_CSV.read_text().splitlines()[1])))
    accounts.create_account(world.ctx, world.admin, world.account_data(phone_number=first[1], full_name="Faster"))
    drain_imports(world.ctx)
    done = world.ctx.imports.get(job.id)
    assert done is not None and (done.created, done.failed) == (3, 1) and task is world.ctx.tasks
    assert [(e.row, e.code) for e in done.errors] == [(2, "duplicate")]
    assert len(listed(world)) == 4


@pytest.mark.both_backends
def test_a_step_delivered_twice_changes_nothing_the_second_time(world: World) -> None:
    world.ctx.settings = replace(world.ctx.settings, import_chunk_rows=2)
    job = run(world, MANUAL_CSV.read_bytes())
    before = world.ctx.imports.get(job.id)
    for task in ({"job": job.id, "step": "validate"}, {"job": job.id, "step": "apply", "chunk": 0},
                 {"job": job.id, "step": "apply", "chunk": 1}, {"job": "unknown", "step": "apply"}):  # fmt: skip
        imports.process(world.ctx, task)
    assert world.ctx.imports.get(job.id) == before
    assert len(listed(world)) == 4


def put_dropped(world: World, key: str, data: bytes, **metadata: str) -> dict[str, Any]:
    """Put an object in the drop folder and build the S3 notification it causes."""
    files: Any = world.ctx.files
    if hasattr(files, "put"):
        files.put(key, data, metadata)
    else:
        files._client.put_object(Bucket=files.bucket, Key=key, Body=data, Metadata=metadata)
    info = world.ctx.files.info(key)
    assert info is not None
    from urllib.parse import quote_plus

    obj = {"key": quote_plus(key, safe="/"), "size": info.size, "eTag": info.etag}
    return {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "drop"}, "object": obj}}]}


def test_the_drop_folder_imports_once_per_object_and_writes_the_result_next_to_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_handlers.bootstrap, "context", lambda: world.ctx)
    event = put_dropped(world, "imports/Group A/staff.csv", BAD.encode(), policy="skip_invalid")
    [job_id] = import_handlers.object_created(event)
    assert import_handlers.object_created(event) == [job_id]  # the same notification again: the same job
    drain_imports(world.ctx)
    job = world.ctx.imports.get(job_id)
    assert job is not None and (job.source, job.status, job.created, job.group_id) == (
        "drop", "completed", 3, world.group_a.id)  # fmt: skip
    assert import_handlers.object_created(event) == [job_id]  # re-sent after the end: still one job
    drain_imports(world.ctx)
    assert len(listed(world)) == 3
    result = b"".join(world.ctx.files.read("imports/Group A/staff.result.csv")).decode()
    assert result.startswith("record,outcome,created_username") and result.count(",created,") == 3
    assert import_handlers.object_created(put_dropped(world, "imports/Group A/staff.result.csv", b"x")) == []


def test_a_drop_for_an_unknown_group_is_a_failed_job_with_a_result_that_says_why(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_handlers.bootstrap, "context", lambda: world.ctx)
    [job_id] = import_handlers.object_created(put_dropped(world, "imports/Nobody/x.csv", BAD.encode()))
    job = world.ctx.imports.get(job_id)
    assert job is not None and job.status == "failed" and "Nobody" in job.message
    assert b"Nobody" in b"".join(world.ctx.files.read("imports/Nobody/x.result.csv"))
    assert drain_imports(world.ctx) == 0


def _workbook(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_file_is_imported_with_the_csv_checks(world: World) -> None:
    data = _workbook([
        ["fullName", "gsmNumber", "email", "securityModel", "description", None],
        ["Ada Lovelace", "+393471234567", "ada@example.com", "end-to-site", "Board", None],
        ["Bob Stored", 393471234568, "", "end-to-site", None],  # Excel kept the number as a number: lost its +
        [None, None, None, None, None],
        ["Carla", "+393471234569", "", "end-to-end", ""],
    ])  # fmt: skip
    job = run(world, data, ImportOptions(policy=Policy.SKIP_INVALID))
    assert (job.status, job.rows, job.created) == ("completed", 3, 2)
    assert [(e.row, e.field) for e in job.errors] == [(3, "gsmNumber")]
    assert "+" in job.errors[0].message
    assert listed(world) == ["Ada Lovelace", "Carla"]
    created = imports.created_accounts(world.ctx, world.admin, job.id)
    assert [a.full_name for a in created] == ["Ada Lovelace", "Carla"]


def test_a_zip_that_is_no_workbook_and_an_old_xls_are_refused_by_name(world: World) -> None:
    zipped = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("notes.txt", "hello")
    job = run(world, zipped.getvalue())
    assert job.status == "failed" and "not a CSV or spreadsheet" in job.message
    old = run(world, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    assert old.status == "failed" and ".xls" in old.message
