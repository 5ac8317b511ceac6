"""An import job: one file, its options, where the pipeline is, and its outcome."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    code: str
    message: str


class Policy(StrEnum):
    ALL_OR_NOTHING = "all_or_nothing"
    SKIP_INVALID = "skip_invalid"


class JobStatus(StrEnum):
    """What the API reports of a job (the domain keeps it as its value)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    REJECTED = "rejected"  # all-or-nothing refused the file: nothing created
    FAILED = "failed"


class Source(StrEnum):
    UPLOAD = "upload"  # console or API
    DROP = "drop"  # the S3 drop folder


class Phase(StrEnum):
    VALIDATE = "validate"  # waiting for, or in, the validation pass
    APPLY = "apply"  # creating accounts, one staged chunk at a time
    DONE = "done"


@dataclass(frozen=True)
class ImportJob:
    """One import of one file (the job resource of the API and console).

    `status` is what the API reports: pending (queued), running, completed, failed. `phase` and `next_chunk`
    say where the pipeline is, so that a redelivered step either resumes it or is recognised as done."""

    id: str
    group_id: str
    file_name: str
    created_by: str
    created_at: datetime
    policy: str
    dry_run: bool
    status: str
    rows: int = 0
    valid: int = 0
    created: int = 0
    failed: int = 0
    skipped: int = 0
    errors: tuple[RowError, ...] = ()
    errors_total: int = 0
    message: str = ""
    source: str = "upload"  # "upload" (console/API) or "drop" (S3 drop folder)
    file_key: str = ""  # the file in the import bucket
    profile_id: str = ""
    send_installation_sms: bool = False
    phase: Phase = Phase.VALIDATE
    chunks: int = 0
    next_chunk: int = 0
    result_key: str = ""
    updated_at: datetime | None = None
    version: int = 1

    @property
    def progress(self) -> int:
        """Percent done: validation counts as the first tenth, then the chunks."""
        if self.phase is Phase.DONE:
            return 100
        if self.phase is Phase.VALIDATE:
            return 0
        return 10 + (90 * self.next_chunk // self.chunks if self.chunks else 90)

    def bump(self, at: datetime, **changes: object) -> ImportJob:
        return replace(self, **changes, updated_at=at, version=self.version + 1)  # type: ignore[arg-type]


def job_to_dict(job: ImportJob) -> dict[str, object]:
    """The job as JSON-ready values (storage and the API share this form)."""
    body: dict[str, object] = {**job.__dict__}
    body["created_at"] = job.created_at.isoformat()
    body["updated_at"] = job.updated_at.isoformat() if job.updated_at else None
    body["errors"] = [e.__dict__ for e in job.errors]
    body["phase"] = job.phase.value
    return body


def job_from_dict(body: dict[str, object]) -> ImportJob:
    values = dict(body)
    values["created_at"] = datetime.fromisoformat(str(values["created_at"]).replace("Z", "+00:00"))
    updated = values.get("updated_at")
    values["updated_at"] = datetime.fromisoformat(str(updated).replace("Z", "+00:00")) if updated else None
    values["errors"] = tuple(RowError(**e) for e in values.get("errors", []))  # type: ignore[attr-defined]
    values["phase"] = Phase(str(values.get("phase", Phase.DONE.value)))
    return ImportJob(**values)  # type: ignore[arg-type]
