"""Call record routes: GET /api/v1/accounts/{account_id}/calls (docs/calls.md), and their OpenAPI entries
(merged into the document by openapi.py)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Request, Response

from chalicelib.api.http import json_response, query_limit, query_param, route
from chalicelib.api.operations import PAGING, Doc, Query
from chalicelib.api.views import page_json
from chalicelib.domain.calls import CallRecord, Direction, MediaSecurity
from chalicelib.domain.model import Operator, iso
from chalicelib.services import calls
from chalicelib.services.context import Context

bp = Blueprint(__name__)
DIRECTION = Query("direction", {"enum": ["placed", "received"]})


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


@route(
    bp,
    "/accounts/{account_id}/calls",
    ["GET"],
    doc=Doc(
        "The account's call records (CDR), newest first: placed or received", "CallPage", query=(DIRECTION, *PAGING)
    ),
)
def list_(ctx: Context, request: Request, actor: Operator, account_id: str) -> Response:
    direction = query_param(request, "direction") or Direction.PLACED.value
    page = calls.list_calls(ctx, actor, account_id, direction, query_limit(request), query_param(request, "cursor"))
    return json_response(page_json(page, lambda record: call_json(record, account_id)))
