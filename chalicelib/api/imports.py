"""Batch creation: `POST /imports` (multipart upload, or JSON naming a presigned upload), `POST /imports/uploads`
(a presigned S3 form for large files), `GET /imports`, `GET /imports/{id}`, `GET /imports/{id}/result`."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Request, Response

from chalicelib.api.http import BadRequest, json_response, query_limit, read_json, read_multipart, route
from chalicelib.api.operations import CSV, LIMIT_ONLY, Doc
from chalicelib.domain import resources
from chalicelib.domain.import_job import ImportJob
from chalicelib.domain.model import Operator
from chalicelib.services import imports
from chalicelib.services.context import Context

bp = Blueprint(__name__)
IMPORT_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {"$ref": "#/components/schemas/ImportUpload"}},
        "application/json": {"schema": {"$ref": "#/components/schemas/ImportReference"}},
    },
}


def job_json(job: ImportJob) -> dict[str, Any]:
    return resources.IMPORT_JOB.render(job)


def _unknown(names: set[str]) -> None:
    if names:
        raise BadRequest(f"Unknown fields: {', '.join(sorted(names))}.", code="unknown_field", field=sorted(names)[0])


@route(
    bp,
    "/imports",
    ["POST"],
    doc=Doc(
        "Queue the import of a batch file (validated first; dry run and policies): a multipart upload, or JSON "
        "naming a presigned upload (upload_id); the job runs in the background",
        "ImportJob",
        status=202,
        request_body=IMPORT_BODY,
    ),
)
def create(ctx: Context, request: Request, actor: Operator) -> Response:
    if (request.headers.get("content-type") or "").lower().startswith("application/json"):
        body = read_json(request, ctx)
        _unknown(set(body) - set(resources.IMPORT_REFERENCE.names()))
        upload_id = str(body.get("upload_id") or "")
        if not upload_id:
            raise BadRequest("Name the 'upload_id' of a presigned upload.", code="missing_parameter", field="upload_id")
        group_id = str(body.get("group_id") or "")
        name = str(body.get("file_name") or "")
        job = imports.submit_uploaded(ctx, actor, group_id, upload_id, name, imports.options_from(body))
        return json_response(job_json(job), 202)
    parts = read_multipart(request)
    _unknown(set(parts) - set(resources.IMPORT_UPLOAD.names()))
    upload = parts.get("file")
    if upload is None:
        raise BadRequest("Send the CSV as the 'file' part.", code="missing_parameter", field="file")
    text = {name: parts[name].content.decode(errors="replace").strip() for name in parts if name != "file"}
    job = imports.submit_upload(
        ctx,
        actor,
        text.get("group_id", ""),
        upload.filename or "upload.csv",
        upload.content,
        imports.options_from(text),
    )
    return json_response(job_json(job), 202)


@route(
    bp,
    "/imports/uploads",
    ["POST"],
    doc=Doc(
        "A presigned S3 form (url, fields) for a file too large for a request; expires in 15 minutes",
        "UploadForm",
        "UploadRequest",
        201,
    ),
)
def upload_form(ctx: Context, request: Request, actor: Operator) -> Response:
    """A presigned S3 POST for a file larger than a request may carry; then POST /imports with its upload_id."""
    body = read_json(request, ctx)
    _unknown(set(body) - {"group_id"})
    return json_response(imports.upload_form(ctx, actor, str(body.get("group_id") or "")), 201)


@route(
    bp, "/imports", ["GET"], doc=Doc("Recent import jobs of the operator's groups", "ImportPage", query=(LIMIT_ONLY,))
)
def list_(ctx: Context, request: Request, actor: Operator) -> Response:
    jobs = imports.recent_jobs(ctx, actor, query_limit(request))
    return json_response({"items": [job_json(j) for j in jobs], "next_cursor": None})


@route(
    bp,
    "/imports/{job_id}",
    ["GET"],
    doc=Doc("One import job: status, progress, counts and per-row errors", "ImportJob"),
)
def get(ctx: Context, request: Request, actor: Operator, job_id: str) -> Response:
    return json_response(job_json(imports.get_job(ctx, actor, job_id)))


@route(
    bp,
    "/imports/{job_id}/result",
    ["GET"],
    doc=Doc("Every record of the file with its outcome and created username", content=CSV),
)
def result(ctx: Context, request: Request, actor: Operator, job_id: str) -> Response:
    """Every record of the file with its outcome and the created username (CSV)."""
    body = b"".join(imports.result_file(ctx, actor, job_id)).decode()
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="import-{job_id[:40]}-result.csv"',
    }
    return Response(body=body, headers=headers)
