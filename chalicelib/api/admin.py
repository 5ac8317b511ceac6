"""Routes for groups, provisioning profiles and operators."""

from __future__ import annotations

from chalice.app import Blueprint, Request, Response

from chalicelib.api.http import bearer_token, json_response, query_limit, query_param, read_json, route
from chalicelib.api.views import group_json, operator_json, page_json, profile_json
from chalicelib.domain.model import Operator
from chalicelib.services import groups, operators
from chalicelib.services.context import Context

bp = Blueprint(__name__)
NO_CONTENT = 204


@route(bp, "/groups", ["GET"])
def list_groups(ctx: Context, request: Request, actor: Operator) -> Response:
    page = groups.list_groups(ctx, actor, query_limit(request), query_param(request, "cursor"))
    return json_response(page_json(page, group_json))


@route(bp, "/groups", ["POST"])
def create_group(ctx: Context, request: Request, actor: Operator) -> Response:
    return json_response(group_json(groups.create_group(ctx, actor, read_json(request, ctx))), 201)


@route(bp, "/groups/{group_id}", ["GET"])
def get_group(ctx: Context, request: Request, actor: Operator, group_id: str) -> Response:
    return json_response(group_json(groups.get_group(ctx, actor, group_id)))


@route(bp, "/groups/{group_id}", ["PATCH"])
def patch_group(ctx: Context, request: Request, actor: Operator, group_id: str) -> Response:
    return json_response(group_json(groups.update_group(ctx, actor, group_id, read_json(request, ctx))))


@route(bp, "/groups/{group_id}", ["DELETE"])
def delete_group(ctx: Context, request: Request, actor: Operator, group_id: str) -> Response:
    groups.delete_group(ctx, actor, group_id)
    return Response(body="", status_code=NO_CONTENT)


@route(bp, "/provisioning-profiles", ["GET"])
def list_profiles(ctx: Context, request: Request, actor: Operator) -> Response:
    page = groups.list_profiles(ctx, actor, query_limit(request), query_param(request, "cursor"))
    return json_response(page_json(page, profile_json))


@route(bp, "/provisioning-profiles", ["POST"])
def create_profile(ctx: Context, request: Request, actor: Operator) -> Response:
    return json_response(profile_json(groups.create_profile(ctx, actor, read_json(request, ctx))), 201)


@route(bp, "/provisioning-profiles/{profile_id}", ["GET"])
def get_profile(ctx: Context, request: Request, actor: Operator, profile_id: str) -> Response:
    return json_response(profile_json(groups.get_profile(ctx, actor, profile_id)))


@route(bp, "/provisioning-profiles/{profile_id}", ["PATCH"])
def patch_profile(ctx: Context, request: Request, actor: Operator, profile_id: str) -> Response:
    return json_response(profile_json(groups.update_profile(ctx, actor, profile_id, read_json(request, ctx))))


@route(bp, "/provisioning-profiles/{profile_id}", ["DELETE"])
def delete_profile(ctx: Context, request: Request, actor: Operator, profile_id: str) -> Response:
    groups.delete_profile(ctx, actor, profile_id)
    return Response(body="", status_code=NO_CONTENT)


@route(bp, "/operators", ["GET"])
def list_operators(ctx: Context, request: Request, actor: Operator) -> Response:
    page = operators.list_operators(ctx, actor, query_limit(request), query_param(request, "cursor"))
    return json_response(page_json(page, operator_json))


@route(bp, "/operators", ["POST"])
def create_operator(ctx: Context, request: Request, actor: Operator) -> Response:
    return json_response(operator_json(operators.create_operator(ctx, actor, read_json(request, ctx))), 201)


@route(bp, "/operators/{operator_id}", ["GET"])
def get_operator(ctx: Context, request: Request, actor: Operator, operator_id: str) -> Response:
    return json_response(operator_json(operators.get_operator(ctx, actor, operator_id)))


@route(bp, "/operators/{operator_id}", ["PATCH"])
def patch_operator(ctx: Context, request: Request, actor: Operator, operator_id: str) -> Response:
    body = read_json(request, ctx)
    updated = operators.update_operator(ctx, actor, operator_id, body, current_token=bearer_token(request))
    return json_response(operator_json(updated))


@route(bp, "/operators/{operator_id}", ["DELETE"])
def delete_operator(ctx: Context, request: Request, actor: Operator, operator_id: str) -> Response:
    operators.delete_operator(ctx, actor, operator_id)
    return Response(body="", status_code=NO_CONTENT)
