"""The phones' side: installation and activation links, the installed app's report, activation redemption.

Public (no operator login): the token in the link is the credential. Pages answer GET without redeeming
anything (message previews and link scanners fetch links first); redemption is a POST.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

from chalice.app import Blueprint, Request, Response

from chalicelib.api.http import bearer_token, json_response, read_json, route, source_ip
from chalicelib.console.web import html, render_page
from chalicelib.domain.errors import DomainError
from chalicelib.domain.fields import FieldReader, require
from chalicelib.domain.model import iso
from chalicelib.services import activation, licensing
from chalicelib.services.context import Context

bp = Blueprint(__name__)


# What a phone's browser shows when a page cannot be served, by language (the phone's Accept-Language; English
# when none of these): one text for every unusable link, so that none can be told apart.
PHONE_TEXTS: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "invalid_link": {"title": "This link cannot be used", "body": "It has expired, has been used or replaced by a "
                         "newer one. Ask your operator to send a new link."},
        "rate_limited": {"title": "Too many attempts", "body": "Wait a few minutes, then open the link again."},
        "error": {"title": "Something went wrong", "body": "The page cannot be shown now. Try again in a few minutes; "
                  "if it keeps failing, contact your operator."},
    },
    "it": {
        "invalid_link": {"title": "Questo link non è utilizzabile", "body": "È scaduto, è già stato usato o è stato "
                         "sostituito da uno più recente. Chiedi al tuo operatore di inviarne uno nuovo."},
        "rate_limited": {"title": "Troppi tentativi", "body": "Attendi qualche minuto, poi apri di nuovo il link."},
        "error": {"title": "Qualcosa non ha funzionato", "body": "La pagina non può essere mostrata ora. Riprova tra "
                  "qualche minuto; se il problema continua, contatta il tuo operatore."},
    },
}  # fmt: skip


def phone_language(request: Request) -> str:
    """The first of the phone's languages (Accept-Language, in its order of preference) that we have."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((request.headers.get("accept-language") or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((-weight, index, tag.split("-")[0].lower()))
    return next((lang for _, _, lang in sorted(ranked) if lang in PHONE_TEXTS), "en")


def _up(request: Request) -> str:
    return "../" * max(len(request.path.strip("/").split("/")) - 1, 0)


def phone_page(request: Request, template: str, **values: object) -> Response:
    lang = phone_language(request)
    return html(render_page(template, lang=lang, up=_up(request), **values))


def phone_error(request: Request, exc: DomainError) -> Response:
    """An error as a page in the phone's language (a person opened a link), with the status the API gives."""
    lang = phone_language(request)
    text = PHONE_TEXTS[lang].get(exc.code) or PHONE_TEXTS[lang]["error"]
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return html(render_page("mobile_error.html", lang=lang, up=_up(request), text=text), exc.status, headers)


def _for_a_person(view: Callable[..., Response]) -> Callable[..., Response]:
    """A page a person opens in the phone's browser: every error is a page too, never JSON."""

    @functools.wraps(view)
    def answer(ctx: Context, request: Request, actor: None, **params: str) -> Response:
        try:
            return view(ctx, request, actor, **params)
        except DomainError as exc:
            return phone_error(request, exc)

    return answer


@route(bp, "/m/i/{token}", ["GET"], public=True)
@_for_a_person
def installation_page(ctx: Context, request: Request, actor: None, token: str) -> Response:
    ua = request.headers.get("user-agent") or ""
    page = activation.open_installation_link(ctx, token, ua, source_ip(request))
    return phone_page(request, "mobile_install.html", page=page, token=token)


@route(bp, "/m/i/{token}/download", ["GET"], public=True)
@_for_a_person
def installation_download(ctx: Context, request: Request, actor: None, token: str) -> Response:
    ua = request.headers.get("user-agent") or ""
    url = activation.follow_download(ctx, token, ua, source_ip(request))
    if not url:
        raise DomainError("No download is configured for this device.")
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
    return phone_page(request, "mobile_activate.html", token=token)


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
