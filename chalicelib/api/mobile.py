"""The phones' side: installation and activation links, the installed app's report, activation redemption.

Public (no operator login): the token in the link is the credential. Pages answer GET without redeeming
anything (message previews and link scanners fetch links first); redemption is a POST.
"""

from __future__ import annotations

import json

from chalice.app import Blueprint, Request, Response

from chalicelib.api.http import bearer_token, json_response, read_json, route, source_ip
from chalicelib.console.web import html, render_page
from chalicelib.domain.fields import FieldReader, require
from chalicelib.domain.model import iso
from chalicelib.services import activation, licensing
from chalicelib.services.context import Context

bp = Blueprint(__name__)


@route(bp, "/m/i/{token}", ["GET"], public=True)
def installation_page(ctx: Context, request: Request, actor: None, token: str) -> Response:
    ua = request.headers.get("user-agent") or ""
    page = activation.open_installation_link(ctx, token, ua, source_ip(request))
    return html(render_page("mobile_install.html", page=page, token=token))


@route(bp, "/m/i/{token}/download", ["GET"], public=True)
def installation_download(ctx: Context, request: Request, actor: None, token: str) -> Response:
    ua = request.headers.get("user-agent") or ""
    url = activation.follow_download(ctx, token, ua, source_ip(request))
    return Response(body="", status_code=302, headers={"Location": url, "Cache-Control": "no-store"})


@route(bp, "/m/installed", ["POST"], public=True)
def installed(ctx: Context, request: Request, actor: None) -> Response:
    reader = FieldReader(read_json(request, ctx), ("token", "platform", "app_version"))
    token = require(reader, "token", reader.string("token", max_length=64, min_length=1))
    platform = reader.string("platform", max_length=20)
    version = reader.string("app_version", max_length=40)
    reader.raise_if_errors()
    assert isinstance(token, str)
    activation.report_installed(
        ctx, token, platform if isinstance(platform, str) else "", version if isinstance(version, str) else "",
        source_ip(request),
    )  # fmt: skip
    return json_response({"status": "installed"})


@route(bp, "/m/a/{token}", ["GET"], public=True)
def activation_page(ctx: Context, request: Request, actor: None, token: str) -> Response:
    # No lookup, no redemption: the page only hands the token over to the app, which POSTs it.
    return html(render_page("mobile_activate.html", token=token))


@route(bp, "/m/activation", ["POST"], public=True)
def redeem(ctx: Context, request: Request, actor: None) -> Response:
    reader = FieldReader(read_json(request, ctx), ("token",))
    token = require(reader, "token", reader.string("token", max_length=64, min_length=1))
    reader.raise_if_errors()
    assert isinstance(token, str)
    configuration = activation.redeem_activation(ctx, token, source_ip(request))
    return Response(
        body=json_response(configuration).body,
        status_code=200,
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


@route(bp, "/m/licence", ["GET"], public=True)
def licence(ctx: Context, request: Request, actor: None) -> Response:
    """The licence service URL that activation hands to the app: `Authorization: Bearer <licence_token>`."""
    served = licensing.licence_for_device(ctx, bearer_token(request), source_ip(request))
    body = {
        "licence": json.loads(served.licence.raw),
        "signature": served.licence.signature,
        "source": served.source,
        "stale": served.stale,
        "validated_at": iso(served.validated_at),
    }
    return Response(body=json.dumps(body), headers={"Content-Type": "application/json", "Cache-Control": "no-store"})
