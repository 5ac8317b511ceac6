"""Request parsing, authentication and RFC 9457 problem documents shared by every route."""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import policy as email_policy
from email.parser import BytesParser
from typing import Any

from chalice.app import Blueprint, Chalice, Request, Response

from chalicelib import bootstrap
from chalicelib.api import idempotency, json_reader, operations, security_headers
from chalicelib.domain.errors import DomainError, FieldError, PreconditionRequired, Unauthorized, ValidationFailed
from chalicelib.domain.model import Operator
from chalicelib.services import audit, operators
from chalicelib.services.context import Context

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"
ANY_CONTENT = ["*/*"]  # we check content types ourselves, so that every refusal is a problem document
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class BadRequest(DomainError):
    """Malformed request (not JSON, not an object, bad query parameter): 400."""

    code = "bad_request"

    def __init__(self, message: str, *, code: str, status: int = 400, field: str | None = None) -> None:
        super().__init__(message, code=code, field=field)
        self.status = status


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    field: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "code": code, "detail": detail}
    if field is not None:
        body["field"] = field
    if errors is not None:
        body["errors"] = [e.as_dict() for e in errors]
    return Response(
        body=json.dumps(body), status_code=status, headers={"Content-Type": PROBLEM_TYPE, **(headers or {})}
    )


def error_headers(exc: DomainError) -> dict[str, str]:
    """The headers an error answers with: Retry-After when it says when to come back, the auth challenge."""
    headers: dict[str, str] = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return headers


def problem_for(exc: DomainError) -> Response:
    """The problem document of a domain error: status, title and code come from the error's class."""
    if isinstance(exc, BadRequest):
        return problem(exc.status, exc.code, exc.title, exc.message, field=exc.field)
    errors = exc.errors if isinstance(exc, ValidationFailed) else None
    if errors is None and exc.field is not None:
        errors = [FieldError(exc.field, exc.code, exc.message)]
    return problem(
        exc.status, exc.code, exc.title, exc.message, field=exc.field, errors=errors, headers=error_headers(exc)
    )


def json_response(body: Any, status: int = 200, *, version: int | None = None) -> Response:
    """A JSON answer; `version`: the single resource's version, sent as its `ETag` (for If-Match)."""
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    if version is not None:
        headers["ETag"] = etag(version)
    return Response(body=json.dumps(body), status_code=status, headers=headers)


def etag(version: int) -> str:
    """A resource's entity tag: its version (every stored change increments it), a strong validator."""
    return f'"v{version}"'


_ENTITY_TAG = re.compile(r'"v(\d{1,12})"')  # ours; a weak tag (W/...) never matches, as If-Match compares strongly


def if_match(request: Request, ctx: Context) -> frozenset[int] | None:
    """The versions a change's `If-Match` accepts (RFC 9110): None when absent (or `*`: the item exists, which
    the service checks anyway), else the versions named; a tag we never gave out matches nothing (412). With
    REQUIRE_IF_MATCH a change without the header is refused (428)."""
    raw = (request.headers.get("if-match") or "").strip()
    if not raw:
        if ctx.settings.require_if_match:
            raise PreconditionRequired(
                "Send If-Match with the ETag of the item as you read it; this server refuses blind changes."
            )
        return None
    if raw == "*":
        return None
    return frozenset(int(m.group(1)) for tag in raw.split(",") if (m := _ENTITY_TAG.fullmatch(tag.strip())))


def read_json(request: Request, ctx: Context) -> dict[str, Any]:
    raw = request.raw_body or b""
    data = raw if isinstance(raw, bytes) else raw.encode()
    if len(data) > ctx.settings.max_body_bytes:
        raise BadRequest(
            f"The body is larger than {ctx.settings.max_body_bytes} bytes.", code="body_too_large", status=413
        )
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise BadRequest("Send the body as application/json.", code="unsupported_media_type", status=415)
    if not data.strip():
        raise BadRequest("The body is empty; send a JSON object.", code="invalid_json")
    try:
        value = json_reader.parse(data)
    except json_reader.JsonRefused as exc:
        raise BadRequest(str(exc), code="invalid_json") from exc
    if not isinstance(value, dict):
        raise BadRequest("The body must be a JSON object.", code="invalid_body")
    return value


def _query(request: Request) -> dict[str, str]:
    return dict(request.query_params or {})


MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # API Gateway takes 10 MB at most, Lambda 6 MB: larger files go through S3


@dataclass(frozen=True)
class Part:
    filename: str | None
    content: bytes


def read_multipart(request: Request) -> dict[str, Part]:
    """A multipart/form-data body (an upload form) as its parts, by field name."""
    raw = request.raw_body or b""
    data = raw if isinstance(raw, bytes) else raw.encode()
    if len(data) > MAX_UPLOAD_BYTES:
        raise BadRequest(
            f"The upload is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.", code="body_too_large", status=413
        )
    content_type = request.headers.get("content-type") or ""
    if not content_type.lower().startswith("multipart/form-data"):
        raise BadRequest("Send the upload as multipart/form-data.", code="unsupported_media_type", status=415)
    message = BytesParser(policy=email_policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + data
    )
    if not message.is_multipart():
        raise BadRequest("The multipart body cannot be read.", code="invalid_body")
    parts: dict[str, Part] = {}
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and name in parts:
            raise BadRequest(f"The form has two '{name}' parts; send each once.", code="duplicate_part", field=name)
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            parts[name] = Part(part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return parts


def query_limit(request: Request) -> int:
    raw = _query(request).get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:  # "²" is a digit to isdigit()
        raise BadRequest(f"'limit' must be an integer from 1 to {MAX_LIMIT}.", code="invalid_limit", field="limit")
    return int(raw)


def query_param(request: Request, name: str, *, required: bool = False) -> str | None:
    value = _query(request).get(name)
    if required and not value:
        raise BadRequest(f"The query parameter '{name}' is required.", code="missing_parameter", field=name)
    return value


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def source_ip(request: Request) -> str:
    identity = (request.context or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")


Handler = Callable[..., Response]


def route(
    bp: Blueprint, path: str, methods: list[str], *, public: bool = False, doc: operations.Doc | None = None
) -> Callable[[Handler], Handler]:
    """Register a view that receives (ctx, request, actor, **url_params) and turns domain errors into
    problem documents. Non-public views require `Authorization: Bearer <token>`. `doc` documents the operation
    in the OpenAPI document (api/operations.py); a route without one is not part of /api/v1's document."""
    if doc is not None:
        operations.register(path, methods, doc, public)

    def decorate(view: Handler) -> Handler:
        @functools.wraps(view)
        def wrapper(**params: str) -> Response:
            request = bp.current_request
            with audit.origin(source_ip(request)):
                return security_headers.secured(answer(request, **params), request)

        def answer(request: Request, **params: str) -> Response:
            try:
                ctx = bootstrap.context()
                actor: Operator | None = None
                if not public:
                    actor = operators.authenticate(ctx, bearer_token(request))

                def respond(run_ctx: Context) -> Response:
                    try:
                        return view(run_ctx, request, actor, **params)
                    except DomainError as exc:  # an answer like any other: the same key gets it again
                        return problem_for(exc)

                return idempotency.run(ctx, request, actor, respond)
            except DomainError as exc:
                return problem_for(exc)
            except Exception:
                log.exception("unhandled error on %s %s", request.method, request.path)
                return problem(500, "internal_error", "Internal error", "An unexpected error occurred.")

        bp.route(path, methods=methods, content_types=ANY_CONTENT)(wrapper)
        return wrapper

    return decorate


ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
METHOD_NOT_ALLOWED_VIEW = "method_not_allowed"  # the view name of what refuse_other_methods registers


def method_not_allowed(method: str, allowed: str) -> Response:
    """The 405 of a method a path does not take (the app's, and the local gateway's for methods no route has)."""
    detail = f"{method} is not supported here; this path takes {allowed}."
    return problem(405, "method_not_allowed", "Method not allowed", detail, headers={"Allow": allowed})


def refuse_other_methods(app: Chalice) -> None:
    """Every path takes every method: those it has no view for answer 405 problem+json with `Allow`. Call it
    once every route is registered. (In API Gateway a method a resource lacks would never reach the function:
    its "Missing Authentication Token" 403 would answer instead.)"""
    for path, entries in list(app.routes.items()):
        allowed = ", ".join(m for m in ALL_METHODS if m in entries)
        missing = [m for m in ALL_METHODS if m not in entries]
        if not missing:
            continue

        def refuse(allowed: str = allowed, **params: str) -> Response:
            request = app.current_request
            assert request is not None  # Chalice sets it before any view runs
            return security_headers.secured(method_not_allowed(request.method, allowed), request)

        app.route(path, methods=missing, content_types=ANY_CONTENT, name=METHOD_NOT_ALLOWED_VIEW)(refuse)


def served_routes(app: Chalice) -> set[tuple[str, str]]:
    """(path, method) of every route a view serves (not the 405s of refuse_other_methods)."""
    return {
        (path, method)
        for path, entries in app.routes.items()
        for method, entry in entries.items()
        if entry.view_name != METHOD_NOT_ALLOWED_VIEW
    }
