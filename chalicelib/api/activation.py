"""Operator routes of automatic activation and the SMS provider's status callbacks."""

from __future__ import annotations

from urllib.parse import parse_qsl

from chalice.app import Blueprint, Request, Response

from chalicelib.api.http import json_response, problem, query_param, route
from chalicelib.api.operations import Doc, Query
from chalicelib.api.views import account_json, message_json
from chalicelib.domain.model import Operator
from chalicelib.domain.provisioning import Purpose, segments
from chalicelib.services import activation
from chalicelib.services.context import Context

bp = Blueprint(__name__)
CALLBACK = {
    "204": {"description": "Recorded"},
    "403": {
        "description": "Bad signature",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    },
}


def _sent(result: activation.Sent) -> Response:
    encoding, parts = segments(result.text)
    body = {
        "message": {**message_json(result.message), "encoding": encoding, "segments": parts},
        "account": account_json(result.account),
    }
    return json_response(body, 202)


@route(
    bp,
    "/accounts/{account_id}/installation-sms",
    ["POST"],
    doc=Doc("Queue the installation SMS (new link)", "SmsSent", status=202),
)
def installation_sms(ctx: Context, request: Request, actor: Operator, account_id: str) -> Response:
    return _sent(activation.send_link(ctx, actor, account_id, Purpose.INSTALL))


@route(
    bp,
    "/accounts/{account_id}/activation-sms",
    ["POST"],
    doc=Doc("Queue the activation SMS (new link)", "SmsSent", status=202),
)
def activation_sms(ctx: Context, request: Request, actor: Operator, account_id: str) -> Response:
    return _sent(activation.send_link(ctx, actor, account_id, Purpose.ACTIVATE))


@route(
    bp,
    "/accounts/{account_id}/installation-email",
    ["POST"],
    doc=Doc("Queue the installation link by e-mail (devices without SMS)", "SmsSent", status=202),
)
def installation_email(ctx: Context, request: Request, actor: Operator, account_id: str) -> Response:
    return _sent(activation.send_link(ctx, actor, account_id, Purpose.INSTALL, activation.EMAIL))


@route(
    bp,
    "/accounts/{account_id}/activation-email",
    ["POST"],
    doc=Doc("Queue the activation link by e-mail (devices without SMS)", "SmsSent", status=202),
)
def activation_email(ctx: Context, request: Request, actor: Operator, account_id: str) -> Response:
    return _sent(activation.send_link(ctx, actor, account_id, Purpose.ACTIVATE, activation.EMAIL))


@route(bp, "/accounts/{account_id}/messages", ["GET"], doc=Doc("SMS sent to the account, newest first", "MessagePage"))
def account_messages(ctx: Context, request: Request, actor: Operator, account_id: str) -> Response:
    found = activation.messages_of(ctx, actor, account_id)
    return json_response({"items": [message_json(m) for m in found], "next_cursor": None})


@route(
    bp,
    "/sms/status/{message_id}",
    ["POST"],
    public=True,
    doc=Doc(
        "The SMS provider's status callback: the URL given with the message carries its capability (`key`)",
        query=(Query("key", required=True),),
        responses=CALLBACK,
    ),
)
def status_callback(ctx: Context, request: Request, actor: None, message_id: str) -> Response:
    raw = request.raw_body or b""
    params = dict(parse_qsl(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw))
    if not activation.valid_callback(ctx, message_id, query_param(request, "key") or ""):
        return problem(403, "invalid_signature", "Forbidden", "The callback's key is missing or wrong.")
    activation.record_delivery_status(ctx, message_id, params.get("MessageStatus", ""), params.get("ErrorCode", ""))
    return Response(body="", status_code=204)
