"""Account routes: /api/v1/accounts..."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Request, Response

from chalicelib.api.http import if_match, json_response, query_limit, query_param, read_json, route
from chalicelib.api.operations import CSV, GROUP_ID, PAGING, Doc, Query
from chalicelib.api.views import account_json, bulk_json, history_json, page_json, registration_json, row_json
from chalicelib.domain.model import Operator
from chalicelib.services import accounts, bulk, imports, registrations, search
from chalicelib.services.context import Context

bp = Blueprint(__name__)
SEARCH = Query(
    "q",
    description="Lucene syntax over owner, username, callerid, email, description; "
    "with q the items are account list rows (AccountRow)",
)
HISTORY_LIMIT = 100


def _result(result: accounts.AccountResult, status: int = 200) -> Response:
    body: dict[str, Any] = account_json(result.account)
    body["warnings"] = result.warnings
    return json_response(body, status, version=result.account.version)


@route(
    bp,
    "/accounts",
    ["POST"],
    doc=Doc(
        "Create an account (plain way, or wizard way: disabled until activated)", "AccountResult", "AccountInput", 201
    ),
)
def create(ctx: Context, request: Request, actor: Operator) -> Response:
    return _result(accounts.create_account(ctx, actor, read_json(request, ctx)), 201)


@route(bp, "/accounts", ["GET"], doc=Doc("List a group's accounts", "AccountPage", query=(GROUP_ID, SEARCH, *PAGING)))
def list_(ctx: Context, request: Request, actor: Operator) -> Response:
    """A group's accounts by username; with `q`, those matching the search (manual 1.1.6), as list rows."""
    group_id = query_param(request, "group_id", required=True) or ""
    text, cursor, limit = query_param(request, "q") or "", query_param(request, "cursor"), query_limit(request)
    if text.strip():
        return json_response(page_json(search.search_accounts(ctx, actor, group_id, text, limit, cursor), row_json))
    page = accounts.list_accounts(ctx, actor, group_id, limit, cursor)
    return json_response(page_json(page, account_json))


@route(
    bp,
    "/accounts/export",
    ["GET"],
    doc=Doc(
        "A group's PGSM accounts in the batch CSV format (re-imports into an empty group)",
        query=(GROUP_ID,),
        content=CSV,
    ),
)
def export(ctx: Context, request: Request, actor: Operator) -> Response:
    """The group's accounts as a batch CSV (the import format), for re-import elsewhere."""
    group_id = query_param(request, "group_id", required=True) or ""
    body = "".join(imports.export_group(ctx, actor, group_id))
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="accounts.csv"',
    }
    return Response(body=body, headers=headers)


@route(
    bp, "/accounts/bulk", ["POST"], doc=Doc("One action on many accounts, an outcome each", "BulkResult", "BulkInput")
)
def bulk_(ctx: Context, request: Request, actor: Operator) -> Response:
    """One action on many accounts: an outcome per account (done, skipped, failed and why)."""
    return json_response(bulk_json(bulk.run(ctx, actor, read_json(request, ctx))))


@route(bp, "/accounts/{account_id}", ["GET"], doc=Doc("Get an account", "Account", versioned=True))
def get(ctx: Context, request: Request, actor: Operator, account_id: str) -> Response:
    account = accounts.get_account(ctx, actor, account_id)
    return json_response(account_json(account), version=account.version)


@route(
    bp,
    "/accounts/{account_id}",
    ["PATCH"],
    doc=Doc("Update an account", "AccountResult", "AccountPatch", versioned=True, conditional=True),
)
def patch(ctx: Context, request: Request, actor: Operator, account_id: str) -> Response:
    expected = if_match(request, ctx)
    return _result(accounts.update_account(ctx, actor, account_id, read_json(request, ctx), expected))


@route(bp, "/accounts/{account_id}", ["DELETE"], doc=Doc("Delete an account", conditional=True))
def delete(ctx: Context, request: Request, actor: Operator, account_id: str) -> Response:
    accounts.delete_account(ctx, actor, account_id, if_match(request, ctx))
    return Response(body="", status_code=204)


@route(bp, "/accounts/{account_id}/enable", ["POST"], doc=Doc("Enable", "Account"))
def enable(ctx: Context, request: Request, actor: Operator, account_id: str) -> Response:
    account = accounts.set_enabled(ctx, actor, account_id, True)
    return json_response(account_json(account), version=account.version)


@route(bp, "/accounts/{account_id}/disable", ["POST"], doc=Doc("Disable", "Account"))
def disable(ctx: Context, request: Request, actor: Operator, account_id: str) -> Response:
    account = accounts.set_enabled(ctx, actor, account_id, False)
    return json_response(account_json(account), version=account.version)


@route(
    bp,
    "/accounts/{account_id}/revoke-keys",
    ["POST"],
    doc=Doc("Revoke all keys: SIP digest, links, licence token; disabled", "Account", versioned=True, conditional=True),
)
def revoke_keys(ctx: Context, request: Request, actor: Operator, account_id: str) -> Response:
    account = accounts.revoke_keys(ctx, actor, account_id, if_match(request, ctx))
    return json_response(account_json(account), version=account.version)


@route(bp, "/accounts/{account_id}/history", ["GET"], doc=Doc("Timeline, sessions, calls", "History"))
def history(ctx: Context, request: Request, actor: Operator, account_id: str) -> Response:
    return json_response(history_json(accounts.history(ctx, actor, account_id, HISTORY_LIMIT)))


@route(
    bp,
    "/registrations",
    ["GET"],
    doc=Doc(
        "Who is online in a group: registered SIP contacts by username", "RegistrationPage", query=(GROUP_ID, *PAGING)
    ),
)
def online(ctx: Context, request: Request, actor: Operator) -> Response:
    """Who is online in a group: one entry per registered contact, by username."""
    group_id = query_param(request, "group_id", required=True) or ""
    page = registrations.online_in_group(ctx, actor, group_id, query_limit(request), query_param(request, "cursor"))
    return json_response(page_json(page, registration_json))
