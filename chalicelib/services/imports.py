"""Batch creation (manual: "the batch way"): one pipeline for console uploads and the S3 drop folder.

A job is created once per file (the drop folder keys it on bucket, key and version/ETag, an upload on its id),
then runs as steps through the work queue, each small enough for one Lambda invocation:

1. **validate**: the file is streamed once; every record is checked (fields, duplicates inside the file,
   numbers and usernames already taken, looked up in batches); the valid records are staged in chunks
   (`work/<job>/chunk-NNNNN.jsonl`) and the invalid ones' outcomes written aside. A dry run, or
   all-or-nothing with any invalid record, ends here without creating anything.
2. **apply chunk N**: the chunk's accounts are created with ids derived from the job and the record number,
   so a redelivered or resumed step finds the ones it already made instead of making them twice; then the
   job's counters move on (a conditional write: a duplicate step changes nothing) and chunk N+1 is queued.
3. **finish**: the result file (every record with its outcome and username) is merged from the parts, in
   record order, next to a drop-folder file or under `results/`; the staging is removed.

Memory stays bounded by one chunk and the in-file duplicate index (a dict of the numbers seen so far).
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import io
import json
import logging
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.csv_import import (
    EXPORT_COLUMNS,
    BadFile,
    Row,
    export_record,
    parse_row,
    write_csv,
)
from chalicelib.domain.errors import (
    DomainError,
    FieldError,
    FileMissing,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from chalicelib.domain.import_job import ImportJob, JobStatus, Phase, Policy, RowError, Source
from chalicelib.domain.listing import ANY, RECENT_WINDOW, YES_NO, Filter, Table, yes_no
from chalicelib.domain.model import Account, AccountStatus, AccountType, Group, Operator, Page, Role
from chalicelib.domain.provisioning import Purpose
from chalicelib.domain.spreadsheet import read_batch_file
from chalicelib.services import accounts, activation, audit, guards
from chalicelib.services.context import Context

log = logging.getLogger(__name__)
MAX_REPORTED_ERRORS = 1000
LOOKUP_BATCH = 100  # records whose numbers and usernames are looked up together
DROP_PREFIX = "imports/"
UPLOAD_PREFIX = "uploads/"
RESULT_SUFFIX = ".result.csv"
RESULT_HEADER = ("record", "outcome", "created_username", "problems", *EXPORT_COLUMNS)
_IDS = uuid.UUID("6d1f6c2e-8a61-4a4c-9d0e-3f3b5d0c2a71")  # namespace of account ids derived from job+record
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_YES_NO = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def _yes_no(errors: list[FieldError], name: str, value: object) -> bool:
    """A yes/no option as forms, JSON and S3 metadata give it: JSON true/false, or true/false, 1/0, yes/no,
    on/off (a checkbox), absent or empty being no. Anything else is an error, never a guess."""
    if value is None or value == "" or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _YES_NO:
        return _YES_NO[value.strip().lower()]
    errors.append(FieldError(name, "invalid_boolean", f"'{name}' is true or false."))
    return False


@dataclass(frozen=True)
class ImportOptions:
    profile_id: str | None = None  # default provisioning profile (else the group's)
    policy: Policy = Policy.ALL_OR_NOTHING
    dry_run: bool = False
    send_installation_sms: bool = False


DEFAULT_OPTIONS = ImportOptions()


def parse_policy(text: str | None) -> Policy:
    try:
        return Policy(text or Policy.ALL_OR_NOTHING.value)
    except ValueError as exc:
        raise ValidationFailed(
            [FieldError("policy", "invalid_choice", "'policy' is all_or_nothing or skip_invalid.")]
        ) from exc


OPTION_NAMES = {"profile_id": "profile_id", "policy": "policy", "dry_run": "dry_run",
                "send_installation_sms": "send_installation_sms"}  # fmt: skip
METADATA_NAMES = {
    "profile_id": "profile",
    "policy": "policy",
    "dry_run": "dry-run",
    "send_installation_sms": "send-installation-sms",
}  # fmt: skip  (x-amz-meta-…)


def options_from(values: Mapping[str, object], names: Mapping[str, str] = OPTION_NAMES) -> ImportOptions:
    """The import options of a request as the API's JSON, its multipart form, the console's form or an S3 object's
    metadata (`names`) give them: an unknown policy, a yes/no that is neither or a profile that is no text is
    refused with 422, never read as the default."""
    errors: list[FieldError] = []
    profile = values.get(names["profile_id"])
    if profile is not None and not isinstance(profile, str):
        errors.append(FieldError(names["profile_id"], "invalid_type", "The profile is given by its id (text)."))
    policy = values.get(names["policy"])
    dry_run = _yes_no(errors, names["dry_run"], values.get(names["dry_run"]))
    send = _yes_no(errors, names["send_installation_sms"], values.get(names["send_installation_sms"]))
    if policy is not None and not isinstance(policy, str):
        errors.append(FieldError(names["policy"], "invalid_choice", "'policy' is all_or_nothing or skip_invalid."))
    if errors:
        raise ValidationFailed(errors)
    return ImportOptions(
        profile_id=profile if isinstance(profile, str) and profile else None,
        policy=parse_policy(policy if isinstance(policy, str) else None),
        dry_run=dry_run,
        send_installation_sms=send,
    )


# --- entry points ----------------------------------------------------------------------------------------------


def _check_target(ctx: Context, actor: Operator, group_id: str, options: ImportOptions) -> None:
    if not group_id:
        raise ValidationFailed([FieldError("group_id", "required", "Choose the group to import into.")])
    if not actor.can_write_group(group_id):
        raise Forbidden("You may not create accounts in this group.")
    if ctx.groups.get(group_id) is None:
        raise ValidationFailed([FieldError("group_id", "not_found", "No group has this id.")])
    if options.profile_id and ctx.profiles.get(options.profile_id) is None:
        raise ValidationFailed([FieldError("profile_id", "not_found", "No provisioning profile has this id.")])


def _new_job(
    ctx: Context, job_id: str, group_id: str, file_name: str, by: str, options: ImportOptions, **more: Any
) -> ImportJob:
    now = ctx.clock()
    return ImportJob(
        id=job_id, group_id=group_id, file_name=file_name[:200], created_by=by, created_at=now, updated_at=now,
        policy=options.policy.value, dry_run=options.dry_run, status="pending", profile_id=options.profile_id or "",
        send_installation_sms=options.send_installation_sms, **more,
    )  # fmt: skip


def _start(ctx: Context, job: ImportJob) -> ImportJob:
    """Store the job and queue its first step; a job that exists already (same file again) is returned as is."""
    if not ctx.imports.add(job):
        existing = ctx.imports.get(job.id)
        assert existing is not None
        return existing
    ctx.tasks.send({"job": job.id, "step": Phase.VALIDATE.value})
    detail = {"file_name": job.file_name, "group_id": job.group_id, "policy": job.policy, "dry_run": str(job.dry_run)}
    audit.record(ctx, job.created_by, "import.submit", "import", job.id, detail)
    return job


def submit_upload(
    ctx: Context, actor: Operator, group_id: str, file_name: str, data: bytes, options: ImportOptions
) -> ImportJob:
    """A file sent with the request (console and API, up to the request size limit)."""
    _check_target(ctx, actor, group_id, options)
    job_id = uuid.uuid4().hex
    key = f"{UPLOAD_PREFIX}{job_id}.csv"
    ctx.files.write(key, [data])
    return _start(ctx, _new_job(ctx, job_id, group_id, file_name, actor.username, options, file_key=key))


def upload_form(ctx: Context, actor: Operator, group_id: str) -> dict[str, Any]:
    """A presigned S3 form for a file too big for a request; then `submit_uploaded` with its upload id."""
    _check_target(ctx, actor, group_id, DEFAULT_OPTIONS)
    upload_id = uuid.uuid4().hex
    expires = 15 * 60
    form = ctx.files.upload_form(f"{UPLOAD_PREFIX}{upload_id}.csv", ctx.settings.max_upload_bytes, expires)
    return {"upload_id": upload_id, **form, "expires_in": expires, "max_bytes": ctx.settings.max_upload_bytes}


def submit_uploaded(
    ctx: Context, actor: Operator, group_id: str, upload_id: str, file_name: str, options: ImportOptions
) -> ImportJob:
    """The job for a file uploaded with `upload_form`; submitting the same upload twice gives the same job."""
    _check_target(ctx, actor, group_id, options)
    key = f"{UPLOAD_PREFIX}{upload_id}.csv"
    if not _UPLOAD_ID.match(upload_id) or ctx.files.info(key) is None:
        raise ValidationFailed([FieldError("upload_id", "not_found", "No uploaded file has this id.")])
    job = _start(ctx, _new_job(ctx, upload_id, group_id, file_name or "upload.csv", actor.username, options,
                               file_key=key))  # fmt: skip
    if job.group_id != group_id or not actor.can_read_group(job.group_id):  # someone else's upload: not to be seen
        raise ValidationFailed([FieldError("upload_id", "not_found", "No uploaded file has this id.")])
    return job


def submit_dropped(ctx: Context, bucket: str, key: str, etag: str, version: str) -> ImportJob | None:
    """An object created in the drop folder: `imports/<group id or name>/<file>.csv`. Options come from the
    object's metadata (`policy`, `profile`, `dry-run`, `send-installation-sms`). The job id is derived from
    bucket, key and version (or ETag), so a repeated event or a re-sent notification yields the same job."""
    parts = key.split("/")
    if not key.startswith(DROP_PREFIX) or len(parts) < 3 or not key.lower().endswith(".csv"):
        return None
    if key.lower().endswith(RESULT_SUFFIX):
        return None  # our own result files
    digest = hashlib.sha256(f"{bucket}\n{key}\n{version or etag}".encode()).hexdigest()[:32]
    job_id = f"drop-{digest}"
    existing = ctx.imports.get(job_id)
    if existing is not None:
        return existing
    info = ctx.files.info(key)
    if info is None:
        log.warning("drop-folder object %s vanished before its import started", key)
        return None
    meta = info.metadata
    result_key = key[: -len(".csv")] + RESULT_SUFFIX
    group = _group_named(ctx, parts[1])
    try:
        options = options_from(meta, METADATA_NAMES)
    except ValidationFailed as exc:
        return _failed_at_once(ctx, job_id, group, key, exc.errors[0].message, result_key)
    if group is None:
        return _failed_at_once(ctx, job_id, None, key, f"No group is called {parts[1]!r}.", result_key)
    if options.profile_id and ctx.profiles.get(options.profile_id) is None:
        message = f"No provisioning profile has the id {options.profile_id!r}."
        return _failed_at_once(ctx, job_id, group, key, message, result_key)
    more = {"file_key": key, "source": "drop", "result_key": result_key}
    return _start(ctx, _new_job(ctx, job_id, group.id, parts[-1], "drop-folder", options, **more))


def _failed_at_once(
    ctx: Context, job_id: str, group: Group | None, key: str, message: str, result_key: str
) -> ImportJob:
    job = _new_job(ctx, job_id, group.id if group else "", key.rsplit("/", 1)[-1], "drop-folder", DEFAULT_OPTIONS)
    job = replace(job, status="failed", phase=Phase.DONE, message=message, source="drop", file_key=key)
    ctx.imports.add(job)
    ctx.files.write(result_key, [f"problem\r\n{message}\r\n".encode()])
    return job


def _group_named(ctx: Context, ref: str) -> Group | None:
    found = ctx.groups.get(ref)
    if found is not None:
        return found
    cursor: str | None = None
    while True:
        page = ctx.groups.list(200, cursor)
        for group in page.items:
            if group.name.lower() == ref.lower():
                return group
        cursor = page.next_cursor
        if not cursor:
            return None


MAX_RECEIVES = 5  # deliveries of a step before SQS moves it to the dead-letter queue (infra/messaging.py)

# --- the steps -------------------------------------------------------------------------------------------------


def process(ctx: Context, task: Mapping[str, Any]) -> None:
    """Run one step of a job (the work queue's consumer). Steps that are no longer due (a duplicate delivery,
    a step another worker finished) do nothing."""
    job = ctx.imports.get(str(task.get("job", "")))
    if job is None:
        log.warning("import step for an unknown job: %s", task)
        return
    step = task.get("step")
    if step == Phase.VALIDATE.value and job.phase is Phase.VALIDATE:
        _validate_step(ctx, job)
    elif step == Phase.APPLY.value and job.phase is Phase.APPLY and task.get("chunk") == job.next_chunk:
        _apply_step(ctx, job)


@dataclass
class _Tally:
    rows: int = 0
    valid: int = 0
    created: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_total: int = 0

    def error(self, row: int, problem: FieldError) -> None:
        self.errors_total += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(row, problem.field, problem.code, problem.message))


class _PartWriter:
    """Lines collected into numbered objects of at most `size` lines each (staging and result parts)."""

    def __init__(self, ctx: Context, prefix: str, size: int, first: int = 0) -> None:
        self.ctx, self.prefix, self.size = ctx, prefix, size
        self.lines: list[str] = []
        self.first = first
        self.parts = 0

    def add(self, line: str) -> None:
        self.lines.append(line)
        if len(self.lines) >= self.size:
            self.flush()

    def flush(self) -> None:
        if self.lines:
            self.ctx.files.write(f"{self.prefix}{self.first + self.parts:05d}", ["".join(self.lines).encode()])
            self.parts += 1
            self.lines = []


def _work(job: ImportJob) -> str:
    return f"work/{job.id}/"


def _result_line(record: int, outcome: str, username: str, problems: str, values: Mapping[str, str]) -> str:
    row = [str(record), outcome, username, problems, *(values.get(c, "") for c in EXPORT_COLUMNS)]
    return json.dumps(row) + "\n"


def _validate_step(ctx: Context, job: ImportJob) -> None:
    running = job.bump(ctx.clock(), status="running")
    if not ctx.imports.replace(job, running):
        return  # another worker took this step
    tally = _Tally()
    chunk_rows = max(1, ctx.settings.import_chunk_rows)
    staged = _PartWriter(ctx, f"{_work(job)}chunk-", chunk_rows)
    invalid = _PartWriter(ctx, f"{_work(job)}invalid-", chunk_rows)
    try:
        _check_file(ctx, job, tally, staged, invalid)
    except (BadFile, FileMissing) as exc:
        _finish(ctx, running, tally, status="failed", message=str(exc) if isinstance(exc, BadFile) else exc.message)
        return
    staged.flush()
    invalid.flush()
    nothing_to_do = job.dry_run or staged.parts == 0
    if job.policy == Policy.ALL_OR_NOTHING.value and tally.errors_total and not job.dry_run:
        message = (f"All or nothing: {tally.errors_total} problem(s) in the file, so no account was created. "
                   "Correct the records the result file marks invalid and upload the file again.")  # fmt: skip
        _finish(ctx, running, tally, status="rejected", message=message, skipped=tally.rows)
        return
    if nothing_to_do:
        _finish(ctx, running, tally, skipped=tally.rows)
        return
    applying = running.bump(
        ctx.clock(), phase=Phase.APPLY, chunks=staged.parts, next_chunk=0, rows=tally.rows, valid=tally.valid,
        skipped=tally.rows - tally.valid, errors=tuple(tally.errors), errors_total=tally.errors_total,
    )  # fmt: skip
    if ctx.imports.replace(running, applying):
        ctx.tasks.send({"job": job.id, "step": Phase.APPLY.value, "chunk": 0})


def _check_file(ctx: Context, job: ImportJob, tally: _Tally, staged: _PartWriter, invalid: _PartWriter) -> None:
    seen: dict[str, int] = {}  # number or username key -> first record that has it
    window: list[tuple[int, dict[str, str], Row | None, list[FieldError]]] = []
    for record, values in read_batch_file(ctx.files.read(job.file_key)):
        row, problems = parse_row(record, values)
        errors = list(problems.errors)
        if row is not None:
            errors = _creation_problems(row, job)
            row = None if errors else row
        window.append((record, values, row, errors))
        if len(window) >= LOOKUP_BATCH:
            _check_window(ctx, window, seen, tally, staged, invalid)
            window = []
    _check_window(ctx, window, seen, tally, staged, invalid)


_COLUMNS = {"phone_number": "gsmNumber", "secondary_phone_number": "secondaryNumber", "full_name": "fullName",
            "security_model": "securityModel", "keep_alive": "keepAlive"}  # fmt: skip


def _creation_problems(row: Row, job: ImportJob) -> list[FieldError]:
    """What account creation would refuse in this record, by the file's column names: the dry run and the apply
    step judge a record alike."""
    problems = accounts.batch_field_problems(_account_data(row, job.group_id, job.profile_id or None))
    return [FieldError(_COLUMNS.get(p.field, p.field), p.code, p.message) for p in problems]


def _keys(row: Row) -> list[tuple[str, str, str]]:
    """(guard key, column, value) of what must be unique: the numbers and a given username."""
    found = [(guards.number_key(row.phone_number), "gsmNumber", row.phone_number)]
    if row.secondary_phone_number:
        found.append((guards.number_key(row.secondary_phone_number), "secondaryNumber", row.secondary_phone_number))
    if row.username:
        found.append((guards.username_key(row.username), "username", row.username))
    return found


def _check_window(
    ctx: Context,
    window: list[tuple[int, dict[str, str], Row | None, list[FieldError]]],
    seen: dict[str, int],
    tally: _Tally,
    staged: _PartWriter,
    invalid: _PartWriter,
) -> None:
    wanted = [key for _, _, row, _ in window if row is not None for key, _, _ in _keys(row)]
    taken = ctx.accounts.taken_keys(wanted) if wanted else set()
    for record, values, row, problems in window:
        tally.rows += 1
        if row is not None:
            problems += _clashes(row, seen, taken)
        for problem in problems:
            tally.error(record, problem)
        if row is not None and not problems:
            tally.valid += 1
            staged.add(json.dumps({"record": record, "values": values}) + "\n")
        else:
            text = "; ".join(f"{p.field}: {p.message}" for p in problems)
            invalid.add(_result_line(record, "invalid", "", text, values))


def _clashes(row: Row, seen: dict[str, int], taken: set[str]) -> list[FieldError]:
    found: list[FieldError] = []
    for key, column, value in _keys(row):
        what = "username" if column == "username" else value
        if key in seen:
            found.append(FieldError(column, "duplicate_in_file", f"Record {seen[key]} has {what} already."))
        elif key in taken:
            code = "username_taken" if column == "username" else "number_taken"
            found.append(FieldError(column, code, f"{what} belongs to an existing account."))
        else:
            seen[key] = row.record
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


def _importer(job: ImportJob) -> Operator:
    """Who creates the accounts: the permission was checked when the job was submitted; the steps act for it
    inside the job's group only."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return Operator(
        id=f"import:{job.id}", username=job.created_by, role=Role.OPERATOR, group_ids=frozenset({job.group_id}),
        enabled=True, password_hash="", created_at=epoch, updated_at=epoch,
    )  # fmt: skip


def account_id_for(job: ImportJob, record: int) -> str:
    return str(uuid.uuid5(_IDS, f"{job.id}#{record}"))


def _part_lines(ctx: Context, prefix: str, first: int = 0, last: int | None = None) -> Iterator[str]:
    """The lines of the numbered parts `prefix00000`, `prefix00001`... from `first` to `last` (or until the next
    one is missing), in order."""
    number = first
    while last is None or number <= last:
        try:
            text = b"".join(ctx.files.read(f"{prefix}{number:05d}")).decode()
        except FileMissing:
            return
        yield from text.splitlines()
        number += 1


def _staged(
    ctx: Context, job: ImportJob, first: int = 0, last: int | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """Staged records (record number, raw values) of the chunks `first` to `last` (all by default)."""
    for line in _part_lines(ctx, f"{_work(job)}chunk-", first, last):
        item = json.loads(line)
        yield int(item["record"]), dict(item["values"])


def _outcomes(ctx: Context, prefix: str) -> Iterator[tuple[int, list[str]]]:
    """Result rows (record number first) of the numbered parts under `prefix`."""
    for line in _part_lines(ctx, prefix):
        row = json.loads(line)
        yield int(row[0]), row


def _apply_step(ctx: Context, job: ImportJob) -> None:
    chunk = job.next_chunk
    actor = _importer(job)
    items: list[tuple[int, dict[str, str], Row, str]] = []  # record, raw values, row, the account's id
    for record, values in _staged(ctx, job, chunk, chunk):
        row, _ = parse_row(record, values)
        assert row is not None  # staged rows passed validation
        items.append((record, values, row, account_id_for(job, record)))
    done = ctx.accounts.get_many([account_id for *_, account_id in items])  # made by an earlier try
    todo = [(record, row, account_id) for record, _, row, account_id in items if account_id not in done]
    made = accounts.create_batch_accounts(
        ctx,
        actor,
        [
            (_account_data(row, job.group_id, job.profile_id or None), account_id) for _, row, account_id in todo
        ],  # fmt: skip
    )
    outcomes: dict[int, Account | DomainError] = {
        record: outcome for (record, _, _), outcome in zip(todo, made, strict=True)
    }
    tally = _Tally()
    results = _PartWriter(ctx, f"{_work(job)}result-", len(items) + 1, first=chunk)  # one part per chunk
    for record, values, _, account_id in items:
        outcome = done.get(account_id) or outcomes[record]
        if isinstance(outcome, DomainError):
            outcome = ctx.accounts.get(account_id) or outcome  # a twin delivery made it meanwhile
        if isinstance(outcome, DomainError):
            tally.failed += 1
            for problem in _problems(outcome):
                tally.error(record, problem)
            text = "; ".join(f"{p.field}: {p.message}" for p in _problems(outcome))
            results.add(_result_line(record, "failed", "", text, values))
            continue
        tally.created += 1
        if job.send_installation_sms and outcome.status is AccountStatus.CREATED:
            _send_installation(ctx, actor, outcome.id, record, tally)
        results.add(_result_line(record, "created", outcome.username, "", values))
    results.flush()
    _advance(ctx, job, tally)


def _problems(error: DomainError) -> list[FieldError]:
    if isinstance(error, ValidationFailed):
        return list(error.errors)
    return [FieldError(error.field or "", error.code, error.message)]


def _send_installation(ctx: Context, actor: Operator, account_id: str, record: int, tally: _Tally) -> None:
    try:
        activation.send_link(ctx, actor, account_id, Purpose.INSTALL)
    except DomainError as exc:
        tally.error(
            record,
            FieldError("gsmNumber", exc.code, f"Created, but the installation SMS was not queued: {exc.message}"),
        )


def _advance(ctx: Context, job: ImportJob, tally: _Tally) -> None:
    errors = (job.errors + tuple(tally.errors))[:MAX_REPORTED_ERRORS]
    moved = job.bump(
        ctx.clock(), next_chunk=job.next_chunk + 1, created=job.created + tally.created,
        failed=job.failed + tally.failed, errors=errors, errors_total=job.errors_total + tally.errors_total,
    )  # fmt: skip
    if not ctx.imports.replace(job, moved):
        return  # a duplicate delivery of this step finished first
    if moved.next_chunk < moved.chunks:
        ctx.tasks.send({"job": job.id, "step": Phase.APPLY.value, "chunk": moved.next_chunk})
    else:
        _finish(ctx, moved, None)


def _finish(
    ctx: Context,
    job: ImportJob,
    tally: _Tally | None,
    *,
    status: str = "completed",
    message: str = "",
    skipped: int | None = None,
) -> None:
    result_key = job.result_key or f"results/{job.id}.csv"
    if status in ("completed", "rejected"):
        ctx.files.write(result_key, (line.encode() for line in write_csv(_merged_results(ctx, job), RESULT_HEADER)))
    counts: dict[str, Any] = {}
    if tally is not None:
        counts = {"rows": tally.rows, "valid": tally.valid, "errors": tuple(tally.errors),
                  "errors_total": tally.errors_total}  # fmt: skip
    if skipped is not None:
        counts["skipped"] = skipped
    final = job.bump(
        ctx.clock(), phase=Phase.DONE, status=status, message=message,
        result_key=result_key if status in ("completed", "rejected") else "", **counts,
    )  # fmt: skip
    if ctx.imports.replace(job, final):
        ctx.files.delete_prefix(_work(job))


def give_up(ctx: Context, task: Mapping[str, Any], error: Exception) -> None:
    """A step failed its last delivery (the queue moves it to the dead letters): the job is failed with the reason
    instead of staying "running" forever."""
    job = ctx.imports.get(str(task.get("job", "")))
    if job is None or job.phase is Phase.DONE:
        return
    reason = error.message if isinstance(error, DomainError) else f"an internal error ({type(error).__name__})"
    message = f"The import stopped: its {task.get('step', '')} step failed {MAX_RECEIVES} times: {reason}."
    log.error("import %s gave up: %s", job.id, message)
    _finish(ctx, job, None, status="failed", message=message)


def _merged_results(ctx: Context, job: ImportJob) -> Iterator[list[str]]:
    """Every record's outcome in record order: invalid records from validation, the rest from the chunks
    (valid records of a dry run or a refused all-or-nothing import are reported as not imported)."""
    work = _work(job)
    outcomes = heapq.merge(_outcomes(ctx, f"{work}invalid-"), _results_or_skipped(ctx, job), key=lambda r: r[0])
    for _, row in outcomes:
        yield row


def _results_or_skipped(ctx: Context, job: ImportJob) -> Iterator[tuple[int, list[str]]]:
    if job.phase is Phase.APPLY:
        yield from _outcomes(ctx, f"{_work(job)}result-")
        return
    outcome = "valid (dry run)" if job.dry_run else "not imported (other records are invalid)"
    for record, values in _staged(ctx, job):
        yield record, json.loads(_result_line(record, outcome, "", "", values))


# --- reading jobs and exporting ----------------------------------------------------------------------------------


def get_job(ctx: Context, actor: Operator, job_id: str) -> ImportJob:
    job = ctx.imports.get(job_id)
    if job is None:
        raise NotFound("Import not found.")
    if not actor.can_read_group(job.group_id):
        raise Forbidden("You may not see imports of this group.")
    return job


def result_file(ctx: Context, actor: Operator, job_id: str) -> Iterator[bytes]:
    job = get_job(ctx, actor, job_id)
    if not job.result_key:
        raise NotFound("This import has no result file (yet).")
    return ctx.files.read(job.result_key)


def recent_jobs(ctx: Context, actor: Operator, limit: int) -> list[ImportJob]:
    return [job for job in ctx.imports.recent(limit, ctx.clock()) if actor.can_read_group(job.group_id)]


JOBS = Table[ImportJob](
    sorts={"created_at": lambda j: j.created_at, "file_name": lambda j: j.file_name.lower(),
           "created_by": lambda j: j.created_by, "status": lambda j: j.status, "rows": lambda j: j.rows,
           "created": lambda j: j.created, "errors_total": lambda j: j.errors_total},
    filters={"status": Filter(tuple(s.value for s in JobStatus), lambda j, v: j.status == v),
             "source": Filter(tuple(s.value for s in Source), lambda j, v: j.source == v),
             "dry_run": Filter(YES_NO, lambda j, v: yes_no(j.dry_run, v)),
             "group_id": Filter(ANY, lambda j, v: j.group_id == v)},
    default_sort="created_at",
    default_dir="desc",
)  # fmt: skip


def job_listing(
    ctx: Context, actor: Operator, params: Mapping[str, str], size: int, cursor: str | None
) -> Page[ImportJob]:
    """The console's Imports: the readable jobs of the last weeks sorted, filtered (status, source, dry run,
    group) and a page of them with the total (see domain/listing.py)."""
    return JOBS.page(recent_jobs(ctx, actor, RECENT_WINDOW), params, size, cursor)


def export_group(ctx: Context, actor: Operator, group_id: str) -> Iterator[str]:
    """The group's accounts in the batch format (CSV text by lines), which re-imports into an empty group.
    SNOM accounts are left out: the batch way creates PGSM accounts for automatic activation."""
    accounts.check_group_readable(ctx, actor, group_id)

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


def created_accounts(ctx: Context, actor: Operator, job_id: str) -> list[Account]:
    """The accounts an import created that still exist, in the file's order (their ids derive from the job and
    the record, read from the result file's created records)."""
    job = get_job(ctx, actor, job_id)
    if not job.result_key or not job.created:
        return []
    text = b"".join(ctx.files.read(job.result_key)).decode("utf-8", "replace")
    rows = csv.reader(io.StringIO(text))
    next(rows, None)
    created = (row for row in rows if len(row) > 1 and row[1] == "created" and row[0].isdigit())
    ids = [account_id_for(job, int(row[0])) for row in created]
    found: dict[str, Account] = {}
    for start in range(0, len(ids), 100):
        found |= ctx.accounts.get_many(ids[start : start + 100])
    return [found[i] for i in ids if i in found and actor.can_read_group(found[i].group_id)]
