"""Operator routes of automatic activation and the SMS provider's status callbacks."""

from __future__ import annotations

from urllib.parse import parse_qsl

from chalice.app import Blueprint, Request, Response

from chalicelib.adapters.sms_twilio import valid_callback
from chalicelib.api.http import json_response, problem, route
from chalicelib.api.operations import Doc
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


def _public_url(ctx: Context, message_id: str) -> str:
    """The URL Twilio called, as it signed it: the configured public base plus the path (API Gateway and
    proxies rewrite hosts, so the request's own Host cannot be trusted for this)."""
    return f"{ctx.settings.public_base_url}/api/v1/sms/status/{message_id}"


@route(
    bp,
    "/sms/status/{message_id}",
    ["POST"],
    public=True,
    doc=Doc("Twilio status callback (X-Twilio-Signature checked)", responses=CALLBACK),
)
def status_callback(ctx: Context, request: Request, actor: None, message_id: str) -> Response:
    raw = request.raw_body or b""
    params = dict(parse_qsl(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw))
    signature = request.headers.get("x-twilio-signature") or ""
    if not valid_callback(ctx.settings.twilio_auth_token, _public_url(ctx, message_id), params, signature):
        return problem(403, "invalid_signature", "Forbidden", "The callback signature is missing or wrong.")
    activation.record_delivery_status(ctx, message_id, params.get("MessageStatus", ""), params.get("ErrorCode", ""))
    return Response(body="", status_code=204)
