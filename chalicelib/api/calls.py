"""Call record routes: GET /api/v1/accounts/{account_id}/calls (docs/calls.md), and their OpenAPI entries
(merged into the document by openapi.py)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Request, Response

from chalicelib.api.http import json_response, query_limit, query_param, route
from chalicelib.api.views import page_json
from chalicelib.domain.calls import CallRecord, CallResult, Direction, MediaSecurity
from chalicelib.domain.model import Operator, iso
from chalicelib.services import calls
from chalicelib.services.context import Context

bp = Blueprint(__name__)


def call_json(record: CallRecord, account_id: str) -> dict[str, Any]:
    direction = Direction.PLACED if record.caller_account_id == account_id else Direction.RECEIVED
    return {
        "call_id": record.call_id,
        "direction": direction.value,
        "caller_username": record.caller_username,
        "callee_username": record.callee_username,
        "dialled": record.dialled,
        "started_at": iso(record.started_at),
        "answered_at": iso(record.answered_at),
        "ended_at": iso(record.ended_at),
        "duration_seconds": record.duration_seconds,
        "result": record.result or None,
        "sip_code": record.sip_code or None,
        "media_security": record.media_security or MediaSecurity.NONE.value,
    }


@route(bp, "/accounts/{account_id}/calls", ["GET"])
def list_(ctx: Context, request: Request, actor: Operator, account_id: str) -> Response:
    direction = query_param(request, "direction") or Direction.PLACED.value
    page = calls.list_calls(ctx, actor, account_id, direction, query_limit(request), query_param(request, "cursor"))
    return json_response(page_json(page, lambda record: call_json(record, account_id)))


_S = {"type": "string"}
_T = {"type": "string", "format": "date-time"}
_NT = {"type": ["string", "null"], "format": "date-time"}
OPENAPI_SCHEMAS: dict[str, Any] = {
    "Call": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **{name: _S for name in ("call_id", "caller_username", "callee_username", "dialled")},
            "direction": {"enum": [d.value for d in Direction]},
            "started_at": _T,
            "answered_at": _NT,
            "ended_at": _NT,
            "duration_seconds": {"type": "integer", "minimum": 0},
            "result": {"enum": [*(r.value for r in CallResult), None], "description": "null while the call goes on"},
            "sip_code": {"type": ["integer", "null"]},
            "media_security": {"enum": [m.value for m in MediaSecurity]},
        },
    },
    "CallPage": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Call"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
}
OPENAPI_PATHS: dict[str, Any] = {
    "/accounts/{account_id}/calls": {
        "parameters": [{"name": "account_id", "in": "path", "required": True, "schema": _S}],
        "get": {
            "summary": "The account's call records (CDR), newest first: placed or received",
            "parameters": [
                {"name": "direction", "in": "query", "schema": {"enum": ["placed", "received"]}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                {"name": "cursor", "in": "query", "schema": _S},
            ],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CallPage"}}},
                },
            },
        },
    },
}
