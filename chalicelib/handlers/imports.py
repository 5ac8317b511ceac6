"""The import pipeline's event entry points: the work queue's consumer and the S3 drop folder's notification.

Chalice's CloudFormation packaging refuses `@app.on_s3_event`, so the drop folder's notification reaches a plain
`@app.lambda_function` (infra/ wires the bucket notification to it; the local stack's bridge calls the same
function with the same event shape)."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote_plus

from chalicelib import bootstrap
from chalicelib.services import imports
from chalicelib.services.context import Context

log = logging.getLogger(__name__)


def run_record(record: Any) -> None:
    """One import step (a Chalice SQSRecord); raises to have it delivered again (app.py reports it failed). On the
    last delivery (SQS then moves the step to the dead letters) the job is marked failed with the reason."""
    try:
        task = json.loads(record.body)
    except ValueError:
        log.warning("dropped an import task that is not JSON")
        return
    ctx = bootstrap.context()
    try:
        imports.process(ctx, task)
    except Exception as exc:
        if _receives(record) >= imports.MAX_RECEIVES:
            _give_up(ctx, task, exc)
        raise


def _give_up(ctx: Context, task: dict[str, Any], exc: Exception) -> None:
    try:
        imports.give_up(ctx, task, exc)
    except Exception:
        log.exception("could not mark the import job of %s failed", task)


def _receives(record: Any) -> int:
    attributes = record.to_dict().get("attributes") or {}
    count = str(attributes.get("ApproximateReceiveCount", "1"))
    return int(count) if count.isascii() and count.isdigit() else 1


def object_created(event: dict[str, Any]) -> list[str]:
    """An S3 ObjectCreated notification: one import job per new object under imports/. Returns the job ids."""
    ctx = bootstrap.context()
    jobs: list[str] = []
    for record in event.get("Records", []):
        s3 = record.get("s3", {})
        bucket = str(s3.get("bucket", {}).get("name", ""))
        obj = s3.get("object", {})
        key = unquote_plus(str(obj.get("key", "")))  # S3 notifications URL-encode keys
        job = imports.submit_dropped(ctx, bucket, key, str(obj.get("eTag", "")), str(obj.get("versionId") or ""))
        if job is not None:
            jobs.append(job.id)
    return jobs
