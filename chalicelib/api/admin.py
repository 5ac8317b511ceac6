"""Routes for groups, provisioning profiles and operators."""

from __future__ import annotations

from chalice.app import Blueprint, Request, Response

from chalicelib.api.http import bearer_token, if_match, json_response, query_limit, query_param, read_json, route
from chalicelib.api.operations import PAGING, Doc
from chalicelib.api.views import group_json, operator_json, page_json, profile_json
from chalicelib.domain.model import Operator
from chalicelib.services import groups, operators
from chalicelib.services.context import Context

bp = Blueprint(__name__)
NO_CONTENT = 204


@route(bp, "/groups", ["GET"], doc=Doc("List groups", "GroupPage", query=PAGING))
def list_groups(ctx: Context, request: Request, actor: Operator) -> Response:
    page = groups.list_groups(ctx, actor, query_limit(request), query_param(request, "cursor"))
    return json_response(page_json(page, group_json))


@route(bp, "/groups", ["POST"], doc=Doc("Create a group", "Group", "GroupInput", 201, versioned=True))
def create_group(ctx: Context, request: Request, actor: Operator) -> Response:
    group = groups.create_group(ctx, actor, read_json(request, ctx))
    return json_response(group_json(group), 201, version=group.version)


@route(bp, "/groups/{group_id}", ["GET"], doc=Doc("Get a group", "Group", versioned=True))
def get_group(ctx: Context, request: Request, actor: Operator, group_id: str) -> Response:
    group = groups.get_group(ctx, actor, group_id)
    return json_response(group_json(group), version=group.version)


@route(
    bp,
    "/groups/{group_id}",
    ["PATCH"],
    doc=Doc("Update a group", "Group", "GroupPatch", versioned=True, conditional=True),
)
def patch_group(ctx: Context, request: Request, actor: Operator, group_id: str) -> Response:
    expected = if_match(request, ctx)
    group = groups.update_group(ctx, actor, group_id, read_json(request, ctx), expected)
    return json_response(group_json(group), version=group.version)


@route(bp, "/groups/{group_id}", ["DELETE"], doc=Doc("Delete a group", conditional=True))
def delete_group(ctx: Context, request: Request, actor: Operator, group_id: str) -> Response:
    groups.delete_group(ctx, actor, group_id, if_match(request, ctx))
    return Response(body="", status_code=NO_CONTENT)


@route(bp, "/provisioning-profiles", ["GET"], doc=Doc("List provisioning profiles", "ProfilePage", query=PAGING))
def list_profiles(ctx: Context, request: Request, actor: Operator) -> Response:
    page = groups.list_profiles(ctx, actor, query_limit(request), query_param(request, "cursor"))
    return json_response(page_json(page, profile_json))


@route(
    bp,
    "/provisioning-profiles",
    ["POST"],
    doc=Doc("Create a provisioning profile", "Profile", "ProfileInput", 201, versioned=True),
)
def create_profile(ctx: Context, request: Request, actor: Operator) -> Response:
    profile = groups.create_profile(ctx, actor, read_json(request, ctx))
    return json_response(profile_json(profile), 201, version=profile.version)


@route(
    bp, "/provisioning-profiles/{profile_id}", ["GET"], doc=Doc("Get a provisioning profile", "Profile", versioned=True)
)
def get_profile(ctx: Context, request: Request, actor: Operator, profile_id: str) -> Response:
    profile = groups.get_profile(ctx, actor, profile_id)
    return json_response(profile_json(profile), version=profile.version)


@route(
    bp,
    "/provisioning-profiles/{profile_id}",
    ["PATCH"],
    doc=Doc("Update a provisioning profile", "Profile", "ProfilePatch", versioned=True, conditional=True),
)
def patch_profile(ctx: Context, request: Request, actor: Operator, profile_id: str) -> Response:
    expected = if_match(request, ctx)
    profile = groups.update_profile(ctx, actor, profile_id, read_json(request, ctx), expected)
    return json_response(profile_json(profile), version=profile.version)


@route(
    bp, "/provisioning-profiles/{profile_id}", ["DELETE"], doc=Doc("Delete a provisioning profile", conditional=True)
)
def delete_profile(ctx: Context, request: Request, actor: Operator, profile_id: str) -> Response:
    groups.delete_profile(ctx, actor, profile_id, if_match(request, ctx))
    return Response(body="", status_code=NO_CONTENT)


@route(bp, "/operators", ["GET"], doc=Doc("List operators", "OperatorPage", query=PAGING))
def list_operators(ctx: Context, request: Request, actor: Operator) -> Response:
    page = operators.list_operators(ctx, actor, query_limit(request), query_param(request, "cursor"))
    return json_response(page_json(page, operator_json))


@route(bp, "/operators", ["POST"], doc=Doc("Create an operator", "Operator", "OperatorInput", 201, versioned=True))
def create_operator(ctx: Context, request: Request, actor: Operator) -> Response:
    operator = operators.create_operator(ctx, actor, read_json(request, ctx))
    return json_response(operator_json(operator), 201, version=operator.version)


@route(bp, "/operators/{operator_id}", ["GET"], doc=Doc("Get an operator", "Operator", versioned=True))
def get_operator(ctx: Context, request: Request, actor: Operator, operator_id: str) -> Response:
    operator = operators.get_operator(ctx, actor, operator_id)
    return json_response(operator_json(operator), version=operator.version)


@route(
    bp,
    "/operators/{operator_id}",
    ["PATCH"],
    doc=Doc("Update an operator", "Operator", "OperatorPatch", versioned=True, conditional=True),
)
def patch_operator(ctx: Context, request: Request, actor: Operator, operator_id: str) -> Response:
    expected = if_match(request, ctx)
    body = read_json(request, ctx)
    updated = operators.update_operator(
        ctx, actor, operator_id, body, current_token=bearer_token(request), expected=expected
    )
    return json_response(operator_json(updated), version=updated.version)


@route(bp, "/operators/{operator_id}", ["DELETE"], doc=Doc("Delete an operator", conditional=True))
def delete_operator(ctx: Context, request: Request, actor: Operator, operator_id: str) -> Response:
    operators.delete_operator(ctx, actor, operator_id, if_match(request, ctx))
    return Response(body="", status_code=NO_CONTENT)
