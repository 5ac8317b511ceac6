"""Login, logout, the current operator and the login audit."""

from __future__ import annotations

from chalice.app import Blueprint, Request, Response

from chalicelib.api.http import bearer_token, json_response, query_limit, query_param, read_json, route, source_ip
from chalicelib.api.operations import LIMIT_ONLY, PAGING, Doc, Query
from chalicelib.api.views import audit_json, login_json, operator_json, page_json
from chalicelib.domain import resources
from chalicelib.domain.model import Operator
from chalicelib.services import audit, operators
from chalicelib.services.context import Context

bp = Blueprint(__name__)


@route(bp, "/auth/login", ["POST"], public=True, doc=Doc("Log in", "Session", "Login"))
def login(ctx: Context, request: Request, actor: None) -> Response:
    user_agent = request.headers.get("user-agent") or ""
    result = operators.login(ctx, read_json(request, ctx), source_ip(request), user_agent)
    return json_response(resources.SESSION.render(result))


@route(bp, "/auth/logout", ["POST"], doc=Doc("Log out (revokes the token)"))
def logout(ctx: Context, request: Request, actor: Operator) -> Response:
    operators.logout(ctx, bearer_token(request))
    return Response(body="", status_code=204)


@route(bp, "/auth/me", ["GET"], doc=Doc("The logged-in operator", "Operator"))
def me(ctx: Context, request: Request, actor: Operator) -> Response:
    return json_response(operator_json(actor))


_TIME = {"type": "string", "format": "date-time"}
AUDIT_QUERY = (
    Query("operator"), Query("target"), Query("kind", {"type": "string", "enum": list(audit.AUDIT_KINDS)}),
    Query("since", _TIME), Query("until", _TIME), Query("dir", {"type": "string", "enum": ["desc", "asc"]}), *PAGING,
)  # fmt: skip


@route(
    bp,
    "/audit/events",
    ["GET"],
    doc=Doc("The audit trail, newest first, hash-chained (admin)", "AuditEventPage", query=AUDIT_QUERY),
)
def audit_events(ctx: Context, request: Request, actor: Operator) -> Response:
    """The audit trail, newest first or `dir=asc` (administrators): filter by operator, target id, kind of
    action, since/until."""
    filters = {k: query_param(request, k) or "" for k in ("operator", "target", "kind", "since", "until", "dir")}
    page = audit.events(ctx, actor, filters, query_limit(request), query_param(request, "cursor"))
    return json_response(page_json(page, audit_json))


@route(bp, "/audit/logins", ["GET"], doc=Doc("Recent login attempts (admin)", "LoginAttemptPage", query=(LIMIT_ONLY,)))
def logins(ctx: Context, request: Request, actor: Operator) -> Response:
    attempts = operators.recent_logins(ctx, actor, query_limit(request))
    return json_response({"items": [login_json(a) for a in attempts], "next_cursor": None})
