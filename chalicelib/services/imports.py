"""Batch creation (manual: "the batch way"): validate a whole file first, then apply it with a policy.

The file is read twice as a stream (`source()` gives a fresh iterator of byte chunks each time), never held in
memory: the first pass validates every record (its fields, duplicates inside the file, numbers and usernames
already taken), the second creates the valid accounts. `all_or_nothing` creates nothing when any record is
invalid; `skip_invalid` creates the valid ones and reports the rest. A dry run stops after the first pass.

This is the core of the import pipeline; the job resource, the S3 drop folder and the fan-out in chunks
through the queue build on it (see the issue's notes).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chalicelib.domain.csv_import import BadFile, Row, decode_lines, export_record, parse_row, read_records, write_csv
from chalicelib.domain.errors import Conflict, DomainError, FieldError, Forbidden, NotFound, ValidationFailed
from chalicelib.domain.import_job import ImportJob, RowError
from chalicelib.domain.model import AccountType, Operator
from chalicelib.domain.provisioning import Purpose
from chalicelib.services import accounts, activation
from chalicelib.services.context import Context

Source = Callable[[], Iterable[bytes]]
MAX_REPORTED_ERRORS = 1000


class Policy(StrEnum):
    ALL_OR_NOTHING = "all_or_nothing"
    SKIP_INVALID = "skip_invalid"


@dataclass(frozen=True)
class ImportOptions:
    profile_id: str | None = None  # default provisioning profile (else the group's)
    policy: Policy = Policy.ALL_OR_NOTHING
    dry_run: bool = False
    send_installation_sms: bool = False


DEFAULT_OPTIONS = ImportOptions()


@dataclass
class ImportReport:
    rows: int = 0
    valid: int = 0
    created: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_total: int = 0
    created_usernames: dict[int, str] = field(default_factory=dict)

    def error(self, row: int, problem: FieldError) -> None:
        self.errors_total += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(row, problem.field, problem.code, problem.message))


def _rows(source: Source) -> Iterable[tuple[Row | None, list[FieldError], int]]:
    for record, values in read_records(decode_lines(source())):
        row, problems = parse_row(record, values)
        yield row, problems.errors, record


def _validate(ctx: Context, source: Source, report: ImportReport) -> set[int]:
    """First pass: every problem of every record. Returns the record numbers that can be created."""
    seen_numbers: dict[str, int] = {}
    seen_usernames: dict[str, int] = {}
    valid: set[int] = set()
    for row, problems, record in _rows(source):
        report.rows += 1
        problems = list(problems)
        if row is not None:
            problems += _clashes(ctx, row, seen_numbers, seen_usernames)
        for problem in problems:
            report.error(record, problem)
        if row is not None and not problems:
            valid.add(record)
    report.valid = len(valid)
    return valid


def _clashes(ctx: Context, row: Row, numbers: dict[str, int], usernames: dict[str, int]) -> list[FieldError]:
    found: list[FieldError] = []
    for column, number in (("gsmNumber", row.phone_number), ("secondaryNumber", row.secondary_phone_number)):
        if not number:
            continue
        if number in numbers:
            found.append(
                FieldError(column, "duplicate_in_file", f"{number} is already used by record {numbers[number]}.")
            )
        elif ctx.accounts.get_by_number(number) is not None:
            found.append(FieldError(column, "number_taken", f"{number} belongs to an existing account."))
        else:
            numbers[number] = row.record
    if row.username:
        key = row.username.lower()
        if key in usernames:
            found.append(FieldError("username", "duplicate_in_file", f"Record {usernames[key]} has this username."))
        elif ctx.accounts.get_by_username(row.username) is not None:
            found.append(FieldError("username", "username_taken", "An existing account has this username."))
        else:
            usernames[key] = row.record
    return found


def _account_data(row: Row, group_id: str, profile_id: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "group_id": group_id, "phone_number": row.phone_number, "full_name": row.full_name, "email": row.email,
        "description": row.description, "security_model": row.security_model.value, "keep_alive": row.keep_alive,
    }  # fmt: skip
    if profile_id:
        data["provisioning_profile_id"] = profile_id
    if row.secondary_phone_number:
        data["secondary_phone_number"] = row.secondary_phone_number
    if row.username:
        data["username"] = row.username
    return data


def run_import(
    ctx: Context, actor: Operator, group_id: str, source: Source, options: ImportOptions = DEFAULT_OPTIONS
) -> ImportReport:
    if not actor.can_write_group(group_id):
        raise Forbidden("You may not create accounts in this group.")
    if ctx.groups.get(group_id) is None:
        raise ValidationFailed([FieldError("group_id", "not_found", "No group has this id.")])
    report = ImportReport()
    try:
        valid = _validate(ctx, source, report)
        if options.dry_run or (options.policy is Policy.ALL_OR_NOTHING and report.errors_total):
            report.skipped = report.rows
            return report
        for row, _, record in _rows(source):
            if row is None or record not in valid:
                report.skipped += 1
                continue
            try:
                created = accounts.create_account(
                    ctx, actor, _account_data(row, group_id, options.profile_id), batch=True
                )
            except (Conflict, ValidationFailed) as exc:  # taken meanwhile by another writer
                report.failed += 1
                for problem in (
                    exc.errors
                    if isinstance(exc, ValidationFailed)
                    else [FieldError(exc.field or "", exc.code, exc.message)]
                ):
                    report.error(record, problem)
                continue
            report.created += 1
            report.created_usernames[record] = created.account.username
            if options.send_installation_sms:
                _send_installation(ctx, actor, created.account.id, record, report)
    except BadFile as exc:
        raise ValidationFailed([FieldError("file", "unreadable_file", str(exc))]) from exc
    return report


def _send_installation(ctx: Context, actor: Operator, account_id: str, record: int, report: ImportReport) -> None:
    try:
        activation.send_link(ctx, actor, account_id, Purpose.INSTALL)
    except DomainError as exc:
        report.error(
            record,
            FieldError("gsmNumber", exc.code, f"Created, but the installation SMS was not queued: {exc.message}"),
        )


def import_file(
    ctx: Context,
    actor: Operator,
    group_id: str,
    file_name: str,
    source: Source,
    options: ImportOptions = DEFAULT_OPTIONS,
) -> ImportJob:
    """Run an import and keep its outcome as a job (an unreadable file is a failed job, not an error)."""
    now = ctx.clock()
    status, message = "completed", ""
    try:
        report = run_import(ctx, actor, group_id, source, options)
    except ValidationFailed as exc:
        if exc.errors[0].field != "file":
            raise
        report, status, message = ImportReport(), "failed", exc.errors[0].message
    job = ImportJob(
        id=str(uuid.uuid4()),
        group_id=group_id,
        file_name=file_name[:200],
        created_by=actor.username,
        created_at=now,
        policy=options.policy.value,
        dry_run=options.dry_run,
        status=status,
        rows=report.rows,
        valid=report.valid,
        created=report.created,
        failed=report.failed,
        skipped=report.skipped,
        errors=tuple(report.errors),
        errors_total=report.errors_total,
        message=message,
    )
    ctx.imports.add(job)
    return job


def get_job(ctx: Context, actor: Operator, job_id: str) -> ImportJob:
    job = ctx.imports.get(job_id)
    if job is None:
        raise NotFound("Import not found.")
    if not actor.can_read_group(job.group_id):
        raise Forbidden("You may not see imports of this group.")
    return job


def recent_jobs(ctx: Context, actor: Operator, limit: int) -> list[ImportJob]:
    return [job for job in ctx.imports.recent(limit) if actor.can_read_group(job.group_id)]


def export_group(ctx: Context, actor: Operator, group_id: str) -> Iterator[str]:
    """The group's accounts in the batch format (CSV text by lines), which re-imports into an empty group.
    SNOM accounts are left out: the batch way creates PGSM accounts for automatic activation."""
    accounts.list_accounts(ctx, actor, group_id, 1, None)  # checks the operator may read the group

    def records() -> Iterator[list[str]]:
        cursor: str | None = None
        while True:
            page = ctx.accounts.list_by_group(group_id, 200, cursor)
            for a in page.items:
                if a.account_type is AccountType.PGSM:
                    yield export_record(a.full_name, a.phone_number, a.email, a.security_model, a.description,
                                        a.username, a.secondary_phone_number, a.keep_alive)  # fmt: skip
            cursor = page.next_cursor
            if not cursor:
                return

    return write_csv(records())
