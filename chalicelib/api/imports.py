"""Batch creation: `POST /imports` (multipart upload), `GET /imports`, `GET /imports/{id}`."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Request, Response

from chalicelib.api.http import BadRequest, json_response, query_limit, read_multipart, route
from chalicelib.domain.import_job import ImportJob
from chalicelib.domain.model import Operator, iso
from chalicelib.services import imports
from chalicelib.services.context import Context

bp = Blueprint(__name__)
TRUE = {"true", "1", "yes", "on"}


def job_json(job: ImportJob) -> dict[str, Any]:
    return {
        **{k: v for k, v in job.__dict__.items() if k != "errors"},
        "created_at": iso(job.created_at),
        "errors": [e.__dict__ for e in job.errors],
    }


@route(bp, "/imports", ["POST"])
def create(ctx: Context, request: Request, actor: Operator) -> Response:
    parts = read_multipart(request)
    unknown = set(parts) - {"file", "group_id", "profile_id", "policy", "dry_run", "send_installation_sms"}
    if unknown:
        raise BadRequest(f"Unknown form fields: {', '.join(sorted(unknown))}.", code="unknown_field")
    upload = parts.get("file")
    group_id = parts["group_id"].content.decode(errors="replace").strip() if "group_id" in parts else ""
    if upload is None or not group_id:
        raise BadRequest(
            "Send a 'file' and a 'group_id'.", code="missing_parameter", field="file" if not upload else "group_id"
        )
    text = {name: parts[name].content.decode(errors="replace").strip() for name in parts if name != "file"}
    try:
        policy = imports.Policy(text.get("policy") or imports.Policy.ALL_OR_NOTHING.value)
    except ValueError as exc:
        raise BadRequest("'policy' is all_or_nothing or skip_invalid.", code="invalid_choice", field="policy") from exc
    data = upload.content
    options = imports.ImportOptions(
        profile_id=text.get("profile_id") or None,
        policy=policy,
        dry_run=text.get("dry_run", "").lower() in TRUE,
        send_installation_sms=text.get("send_installation_sms", "").lower() in TRUE,
    )
    job = imports.import_file(ctx, actor, group_id, upload.filename or "upload.csv", lambda: [data], options)
    return json_response(job_json(job), 201)


@route(bp, "/imports", ["GET"])
def list_(ctx: Context, request: Request, actor: Operator) -> Response:
    jobs = imports.recent_jobs(ctx, actor, query_limit(request))
    return json_response({"items": [job_json(j) for j in jobs], "next_cursor": None})


@route(bp, "/imports/{job_id}", ["GET"])
def get(ctx: Context, request: Request, actor: Operator, job_id: str) -> Response:
    return json_response(job_json(imports.get_job(ctx, actor, job_id)))
