"""schemathesis over every operation of the generated OpenAPI document, in-process on the memory backend, with its
default checks (no 5xx, documented statuses, content types, headers and response schemas, schema-valid requests
accepted). Time-bounded by the number of examples per operation (about half a minute in all); settings in
schemathesis.toml. Each case logs in afresh, so that a generated logout cannot end the others' session."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import schemathesis
from chalice.config import Config
from chalice.local import LocalGateway, LocalGatewayException
from hypothesis import HealthCheck, settings

from app import app
from chalicelib import bootstrap
from chalicelib.services import operators
from tests.conftest import World, make_context

EXAMPLES_PER_OPERATION = 8
_gateway = LocalGateway(app, Config.create(chalice_stage="dev", app_name="fuzz"))


def _wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Chalice's local gateway (what chalice.test uses) as a WSGI app, for schemathesis' in-process transport."""
    path = environ.get("PATH_INFO", "") + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    try:
        answer = _gateway.handle_request(method=environ["REQUEST_METHOD"], path=path, headers=headers, body=body)
    except LocalGatewayException as exc:
        answer = {"statusCode": exc.CODE, "headers": dict(exc.headers), "body": exc.body or b""}
    raw = answer.get("body") or b""
    data = base64.b64decode(raw) if answer.get("isBase64Encoded") else (raw if isinstance(raw, bytes) else raw.encode())
    pairs = [(k, str(v)) for k, v in answer.get("headers", {}).items()]
    pairs += [(k, str(v)) for k, values in answer.get("multiValueHeaders", {}).items() for v in values]
    start_response(f"{answer['statusCode']} {HTTPStatus(answer['statusCode']).phrase}", pairs)
    return [data]


_ctx = make_context("memory", None)
bootstrap.use(_ctx)
World(_ctx)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _wsgi)
bootstrap.use(None)


def _token() -> str:
    return operators.login(_ctx, {"username": "admin", "password": "admin-password-1"}, "10.0.0.1", "fuzz").token


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case: schemathesis.Case) -> None:
    bootstrap.use(_ctx)
    try:
        case.call_and_validate(headers={"Authorization": f"Bearer {_token()}"})
    finally:
        bootstrap.use(None)
