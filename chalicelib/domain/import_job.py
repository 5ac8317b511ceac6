"""An import job: one file, its options and its outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RowError:
    row: int
    field: str
    code: str
    message: str


@dataclass(frozen=True)
class ImportJob:
    """One import of one file: its options and its outcome (the job resource of the API and console)."""

    id: str
    group_id: str
    file_name: str
    created_by: str
    created_at: datetime
    policy: str
    dry_run: bool
    status: str  # "completed" or "failed" (unreadable file)
    rows: int
    valid: int
    created: int
    failed: int
    skipped: int
    errors: tuple[RowError, ...]
    errors_total: int
    message: str = ""
