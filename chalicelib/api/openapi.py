"""The OpenAPI 3.1 document of /api/v1 (a test checks it lists exactly the routes the app serves).

The resources' schemas are generated from their declarations (domain/resources.py `SHAPES`): lengths, formats,
enums and nullability come from there, and the API tests validate every response against this document.
A new resource: declare its shapes in domain/resources.py, add them to `SHAPES`, and name them in its paths
here (`_op(summary, response_schema, body_schema)` or `_crud`)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Request, Response

from chalicelib.api import calls as calls_api
from chalicelib.api.http import json_response, route
from chalicelib.domain import resources
from chalicelib.services.context import Context

bp = Blueprint(__name__)

_S = {"type": "string"}
_ID = {"type": "string", "pattern": "^[0-9A-Za-z._-]{1,64}$", "description": "an id the API gave out"}
_NS = {"type": ["string", "null"]}
_B = {"type": "boolean"}
_T = {"type": "string", "format": "date-time"}
_SL = {"type": "array", "items": _S}
_PORT = {"type": ["integer", "null"], "minimum": 1, "maximum": 65535}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(name: str) -> dict[str, Any]:
    return _obj({"items": {"type": "array", "items": _ref(name)}, "next_cursor": _NS})


SCHEMAS: dict[str, Any] = {
    **{shape.name: shape.schema() for shape in resources.SHAPES},  # every declared resource, generated
    "Problem": {
        "type": "object",
        "properties": {
            "type": _S,
            "title": _S,
            "status": {"type": "integer"},
            "code": _S,
            "detail": _S,
            "field": _S,
            "errors": {"type": "array", "items": _obj({"field": _S, "code": _S, "message": _S})},
        },
        "required": ["title", "status", "code", "detail"],
    },
    "AccountPage": {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"anyOf": [_ref("Account"), _ref("AccountRow")]}},
            "next_cursor": _NS,
        },
        "required": ["items", "next_cursor"],
    },
    "ImportJob": {
        "type": "object",
        "properties": {
            **{k: _S for k in ("id", "group_id", "file_name", "created_by", "policy", "message", "profile_id")},
            "status": {"enum": ["pending", "running", "completed", "rejected", "failed"]},
            "source": {"enum": ["upload", "drop"]},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "has_result": {**_B, "description": "the result CSV is at /imports/{id}/result"},
            "dry_run": _B,
            "send_installation_sms": _B,
            "created_at": _T,
            "updated_at": _T,
            **{k: {"type": "integer"} for k in ("rows", "valid", "created", "failed", "skipped", "errors_total")},
            "errors": {
                "type": "array",
                "items": _obj({"row": {"type": "integer"}, "field": _S, "code": _S, "message": _S}),
            },
        },
    },
    "ImportPage": _page("ImportJob"),
    "UploadRequest": _obj({"group_id": _ID}, ["group_id"]),
    "UploadForm": _obj(
        {
            "upload_id": _S,
            "url": _S,
            "fields": {"type": "object", "additionalProperties": _S},
            "expires_in": {"type": "integer"},
            "max_bytes": {"type": "integer"},
        }
    ),
    "Registration": _obj(
        {
            **{k: _S for k in ("account_id", "username", "group_id", "contact", "source", "user_agent")},
            "edge": {"type": "string", "description": "the SIP edge task that holds the contact"},
            "transport": {"enum": ["udp", "tcp", "tls"]},
            "registered_at": _T,
            "expires_at": _T,
        }
    ),
    "RegistrationPage": _page("Registration"),
    "Session": _obj({"token": _S, "expires_at": _T, "operator": _ref("Operator")}),
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
        "503": "Search engine unavailable",
    }.items()
}


def _with_errors(paths: dict[str, Any]) -> dict[str, Any]:
    """Paths declared elsewhere (chalicelib/api/calls.py) with the common error responses added to their GETs."""
    return {
        path: {**item, "get": {**item["get"], "responses": {**_ERRORS, **item["get"]["responses"]}}}
        for path, item in paths.items()
    }


def _op(summary: str, response: str | None, body: str | None = None, status: str = "200") -> dict[str, Any]:
    responses: dict[str, Any] = dict(_ERRORS)
    if response is None:
        responses["204" if status == "200" else status] = {"description": "Done"}
    else:
        responses[status] = {"description": "OK", "content": {"application/json": {"schema": _ref(response)}}}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    return op


_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "schema": _S,
    "description": "the ETag of the item as you read it: the change is refused (412) if it has changed since",
}
_ETAG = {"ETag": {"description": "the item's version, for If-Match", "schema": _S}}


def _versioned(op: dict[str, Any], status: str = "200") -> dict[str, Any]:
    """A single-resource operation: its answer carries the item's ETag."""
    answer = op["responses"][status]
    return {**op, "responses": {**op["responses"], status: {**answer, "headers": _ETAG}}}


def _conditional(op: dict[str, Any]) -> dict[str, Any]:
    """A change that honours If-Match."""
    return {**op, "parameters": [*op.get("parameters", []), _IF_MATCH]}


def _crud(name: str, schema: str, key: str) -> dict[str, dict[str, Any]]:
    item_params = [{"name": key, "in": "path", "required": True, "schema": _ID}]
    return {
        f"/{name}": {
            "get": _op(f"List {name}", f"{schema}Page"),
            "post": _versioned(_op(f"Create one of {name}", schema, f"{schema}Input", "201"), "201"),
        },
        f"/{name}/{{{key}}}": {
            "parameters": item_params,
            "get": _versioned(_op(f"Get one of {name}", schema)),
            "patch": _conditional(_versioned(_op(f"Update one of {name}", schema, f"{schema}Patch"))),
            "delete": _conditional(_op(f"Delete one of {name}", None)),
        },
    }


def document() -> dict[str, Any]:
    account_param = [{"name": "account_id", "in": "path", "required": True, "schema": _ID}]
    paths: dict[str, Any] = {
        "/auth/login": {"post": {**_op("Log in", "Session", "Login"), "security": []}},
        "/auth/logout": {"post": _op("Log out (revokes the token)", None)},
        "/auth/me": {"get": _op("The logged-in operator", "Operator")},
        "/audit/logins": {"get": _op("Recent login attempts (admin)", "LoginAttemptPage")},
        "/audit/events": {
            "get": {
                **_op("The audit trail, newest first, hash-chained (admin)", "AuditEventPage"),
                "parameters": [
                    *({"name": n, "in": "query", "schema": _S} for n in ("operator", "target", "cursor")),
                    *(
                        {"name": n, "in": "query", "schema": {"type": "string", "format": "date-time"}}
                        for n in ("since", "until")
                    ),
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                ],
            }
        },
        "/openapi.json": {
            "get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI"}}}
        },
        "/accounts": {
            "get": {
                **_op("List a group's accounts", "AccountPage"),
                "parameters": [
                    {"name": "group_id", "in": "query", "required": True, "schema": _ID},
                    {
                        "name": "q",
                        "in": "query",
                        "schema": _S,
                        "description": "Lucene syntax over owner, username, callerid, email, description; "
                        "with q the items are account list rows (AccountRow)",
                    },
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                    {"name": "cursor", "in": "query", "schema": _S},
                ],
            },
            "post": _op(
                "Create an account (plain way, or wizard way: disabled until activated)",
                "AccountResult",
                "AccountInput",
                "201",
            ),
        },
        "/accounts/export": {
            "get": {
                "summary": "A group's PGSM accounts in the batch CSV format (re-imports into an empty group)",
                "parameters": [{"name": "group_id", "in": "query", "required": True, "schema": _ID}],
                "responses": {**_ERRORS, "200": {"description": "CSV", "content": {"text/csv": {"schema": _S}}}},
            }
        },
        "/accounts/bulk": {"post": _op("One action on many accounts, an outcome each", "BulkResult", "BulkInput")},
        "/accounts/{account_id}": {
            "parameters": account_param,
            "get": _versioned(_op("Get an account", "Account")),
            "patch": _conditional(_versioned(_op("Update an account", "AccountResult", "AccountPatch"))),
            "delete": _conditional(_op("Delete an account", None)),
        },
        "/accounts/{account_id}/enable": {"parameters": account_param, "post": _op("Enable", "Account")},
        "/accounts/{account_id}/disable": {"parameters": account_param, "post": _op("Disable", "Account")},
        "/accounts/{account_id}/revoke-keys": {
            "parameters": account_param,
            "post": _conditional(
                _versioned(_op("Revoke all keys: SIP digest, links, licence token; disabled", "Account"))
            ),
        },
        "/accounts/{account_id}/installation-sms": {
            "parameters": account_param,
            "post": _op("Queue the installation SMS (new link)", "SmsSent", status="202"),
        },
        "/accounts/{account_id}/activation-sms": {
            "parameters": account_param,
            "post": _op("Queue the activation SMS (new link)", "SmsSent", status="202"),
        },
        "/accounts/{account_id}/installation-email": {
            "parameters": account_param,
            "post": _op("Queue the installation link by e-mail (devices without SMS)", "SmsSent", status="202"),
        },
        "/accounts/{account_id}/activation-email": {
            "parameters": account_param,
            "post": _op("Queue the activation link by e-mail (devices without SMS)", "SmsSent", status="202"),
        },
        "/accounts/{account_id}/messages": {
            "parameters": account_param,
            "get": _op("SMS sent to the account, newest first", "MessagePage"),
        },
        "/sms/status/{message_id}": {
            "parameters": [{"name": "message_id", "in": "path", "required": True, "schema": _ID}],
            "post": {
                "summary": "Twilio status callback (X-Twilio-Signature checked)",
                "security": [],
                "responses": {"204": {"description": "Recorded"}, "403": _ERRORS["403"]},
            },
        },
        "/imports": {
            "get": _op("Recent import jobs of the operator's groups", "ImportPage"),
            "post": {
                **_op(
                    "Queue the import of a batch file (validated first; dry run and policies): a multipart "
                    "upload, or JSON naming a presigned upload (upload_id); the job runs in the background",
                    "ImportJob",
                    status="202",
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["file", "group_id"],
                                "properties": {
                                    "file": {"type": "string", "contentMediaType": "text/csv"},
                                    "group_id": _ID,
                                    "profile_id": _S,
                                    "policy": {"enum": ["all_or_nothing", "skip_invalid"]},
                                    "dry_run": {"type": "boolean"},
                                    "send_installation_sms": {"type": "boolean"},
                                },
                            }
                        },
                        "application/json": {
                            "schema": _obj(
                                {
                                    "upload_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                                    "file_name": _S,
                                    "group_id": _ID,
                                    "profile_id": _S,
                                    "policy": {"enum": ["all_or_nothing", "skip_invalid"]},
                                    "dry_run": {"type": "boolean"},
                                    "send_installation_sms": {"type": "boolean"},
                                },
                                ["upload_id", "group_id"],
                            )
                        },
                    },
                },
            },
        },
        "/imports/uploads": {
            "post": _op(
                "A presigned S3 form (url, fields) for a file too large for a request; expires in 15 minutes",
                "UploadForm",
                "UploadRequest",
                "201",
            ),
        },
        "/imports/{job_id}": {
            "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": _ID}],
            "get": _op("One import job: status, progress, counts and per-row errors", "ImportJob"),
        },
        "/imports/{job_id}/result": {
            "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": _ID}],
            "get": {
                "summary": "Every record of the file with its outcome and created username",
                "responses": {**_ERRORS, "200": {"description": "CSV", "content": {"text/csv": {"schema": _S}}}},
            },
        },
        "/registrations": {
            "get": {
                **_op("Who is online in a group: registered SIP contacts by username", "RegistrationPage"),
                "parameters": [
                    {"name": "group_id", "in": "query", "required": True, "schema": _ID},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                    {"name": "cursor", "in": "query", "schema": _S},
                ],
            },
        },
        "/accounts/{account_id}/sip-lockout": {
            "parameters": account_param,
            "delete": _op("Lift the SIP edge's lockout of the account (repeated wrong passwords)", "Account"),
        },
        "/accounts/{account_id}/history": {
            "parameters": account_param,
            "get": _op("Timeline, sessions, calls", "History"),
        },
        **_with_errors(calls_api.OPENAPI_PATHS),
        **_crud("groups", "Group", "group_id"),
        **_crud("provisioning-profiles", "Profile", "profile_id"),
        **_crud("operators", "Operator", "operator_id"),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Secure voice operator API", "version": "1.0.0"},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": {**SCHEMAS, **calls_api.OPENAPI_SCHEMAS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@route(bp, "/openapi.json", ["GET"], public=True)
def openapi(ctx: Context, request: Request, actor: None) -> Response:
    return json_response(document())
