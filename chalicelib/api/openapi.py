"""The OpenAPI 3.1 document of /api/v1, generated (a test checks it lists exactly the routes the app serves).

Each operation is documented on its route (`route(..., doc=Doc(...))`, api/operations.py); the schemas come from
the declarations (domain/resources.py `SHAPES`): lengths, formats, enums and nullability come from there, and the
API tests validate every response against this document. A new resource: declare its shapes in
domain/resources.py, add them to `SHAPES`, and name them in its routes' `Doc`."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Request, Response

from chalicelib.api import operations
from chalicelib.api.http import json_response, route
from chalicelib.api.operations import Doc, Documented
from chalicelib.domain import resources
from chalicelib.services.context import Context

bp = Blueprint(__name__)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict[str, Any] = {
    **{shape.name: shape.schema() for shape in resources.SHAPES},  # every declared shape, generated
    "AccountPage": {  # without q the items are accounts, with q search rows
        **resources.ACCOUNT_PAGE.schema(),
        "properties": {
            "items": {"type": "array", "items": {"anyOf": [_ref("Account"), _ref("AccountRow")]}},
            "next_cursor": resources.ACCOUNT_PAGE.field("next_cursor").schema(),
        },
    },
}

_ERRORS = {
    code: {"description": text, "content": {"application/problem+json": {"schema": _ref("Problem")}}}
    for code, text in {
        "400": "Malformed request",
        "401": "Not logged in",
        "403": "Not allowed",
        "404": "Not found",
        "409": "Conflict",
        "412": "If-Match names a version the item no longer has",
        "413": "Body too large",
        "415": "Not JSON",
        "422": "Invalid fields",
        "428": "If-Match required (REQUIRE_IF_MATCH)",
        "429": "Rate limited",
        "503": "A part of the service is unavailable (Retry-After)",
    }.items()
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "schema": {"type": "string"},
    "description": "the ETag of the item as you read it: the change is refused (412) if it has changed since",
}
_ETAG = {"ETag": {"description": "the item's version, for If-Match", "schema": {"type": "string"}}}


def _responses(doc: Doc) -> dict[str, Any]:
    if doc.responses is not None:
        return doc.responses
    if doc.content is not None:
        answer: dict[str, Any] = {"description": "OK", "content": doc.content}
    elif doc.response is None:
        return {**_ERRORS, str(204 if doc.status == 200 else doc.status): {"description": "Done"}}
    else:
        answer = {"description": "OK", "content": {"application/json": {"schema": _ref(doc.response)}}}
    if doc.versioned:
        answer["headers"] = _ETAG
    return {**_ERRORS, str(doc.status): answer}


def _operation(entry: Documented) -> dict[str, Any]:
    doc = entry.doc
    op: dict[str, Any] = {"summary": doc.summary, "responses": _responses(doc)}
    parameters = [*entry.path_parameters(), *(q.parameter() for q in doc.query)]
    if doc.conditional:
        parameters.append(_IF_MATCH)
    if parameters:
        op["parameters"] = parameters
    if doc.request_body is not None:
        op["requestBody"] = doc.request_body
    elif doc.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(doc.body)}}}
    if entry.public:
        op["security"] = []
    return op


def document() -> dict[str, Any]:
    """The document, generated: the paths from the routes' `doc` (api/operations.py), the components from the
    declarations (domain/resources.py)."""
    paths: dict[str, dict[str, Any]] = {}
    for entry in operations.REGISTRY.values():
        paths.setdefault(entry.path, {})[entry.method] = _operation(entry)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Secure voice operator API", "version": "1.0.0"},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": SCHEMAS, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


@route(
    bp, "/openapi.json", ["GET"], public=True, doc=Doc("This document", responses={"200": {"description": "OpenAPI"}})
)
def openapi(ctx: Context, request: Request, actor: None) -> Response:
    return json_response(document())
