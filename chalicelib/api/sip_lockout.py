"""The SIP edge's per-account lockout: DELETE /api/v1/accounts/{account_id}/sip-lockout lifts it."""

from __future__ import annotations

from chalice.app import Blueprint, Request, Response

from chalicelib.api.http import json_response, route
from chalicelib.api.operations import Doc
from chalicelib.api.views import account_json
from chalicelib.domain.model import Operator
from chalicelib.services import sip_lockout
from chalicelib.services.context import Context

bp = Blueprint(__name__)


@route(
    bp,
    "/accounts/{account_id}/sip-lockout",
    ["DELETE"],
    doc=Doc("Lift the SIP edge's lockout of the account (repeated wrong passwords)", "Account"),
)
def lift(ctx: Context, request: Request, actor: Operator, account_id: str) -> Response:
    return json_response(account_json(sip_lockout.lift(ctx, actor, account_id)))
