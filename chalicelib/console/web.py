"""Console plumbing: templates, session cookie, CSRF, relative links, form bodies, error pages.

Pages link relatively (`root` is the way back to /console/ from the current page), so the console works at
/console/ under `chalice local` and behind an API Gateway stage prefix alike.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from chalice.app import Blueprint, Request, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from chalicelib import bootstrap
from chalicelib.api.http import read_multipart, source_ip
from chalicelib.api.security_headers import secured
from chalicelib.domain.errors import DomainError, Forbidden, Unauthorized
from chalicelib.domain.model import STATUS_LABELS, Operator, iso
from chalicelib.services import audit, operators
from chalicelib.services.context import Context

log = logging.getLogger(__name__)
SESSION_COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
IDLE_SECONDS = 30 * 60
MAX_FORM_BYTES = 64 * 1024
CONSOLE_PREFIX = "/console"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_env = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["when"] = lambda moment: (iso(moment) or "").replace("T", " ")[:19] + (" UTC" if moment else "")
_env.globals["status_labels"] = {s.value: label for s, label in STATUS_LABELS.items()}
_env.globals["call_results"] = {
    "answered": "Answered", "busy": "Busy", "no_answer": "No answer", "unavailable": "Unavailable",
    "not_found": "Unknown number", "rejected": "Rejected", "cancelled": "Cancelled by the caller", "failed": "Failed",
}  # fmt: skip


class CsrfFailure(Forbidden):
    code = "csrf_failed"


class FormTooLarge(DomainError):
    code = "body_too_large"
    status = 413
    title = "Form too large"


def root_of(request: Request) -> str:
    """The relative way from this page back to the console root (for links and redirects)."""
    segments = request.path[len(CONSOLE_PREFIX) :].strip("/").split("/")
    depth = max(len(segments) - 1, 0)
    return "../" * depth or "./"


_SECTIONS = {"new-account": "accounts", "new-account-wizard": "accounts", "batch": "imports"}


def section_of(request: Request) -> str:
    """The navigation entry a page belongs to (marked as the current page)."""
    head = request.path[len(CONSOLE_PREFIX) :].strip("/").split("/")[0]
    return _SECTIONS.get(head, head)


def is_https(request: Request) -> bool:
    return (request.headers.get("x-forwarded-proto") or "").lower() == "https"


def cookie(request: Request, name: str) -> str:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(request.headers.get("cookie") or "")
    except Exception:  # a malformed Cookie header is treated as no cookie
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel else ""


def set_cookie(request: Request, name: str, value: str, *, max_age: int | None = None) -> str:
    parts = [f"{name}={value}", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if is_https(request):
        parts.append("Secure")
    return "; ".join(parts)


def csrf_for(session_token: str) -> str:
    """The form token of a session: derived from the session secret, so a page on another site cannot know it."""
    return hmac.new(session_token.encode(), b"console-csrf", hashlib.sha256).hexdigest()


def form(request: Request) -> dict[str, list[str]]:
    raw = request.raw_body or b""
    data = raw if isinstance(raw, bytes) else raw.encode()
    if len(data) > MAX_FORM_BYTES:
        raise FormTooLarge("The form is too large.")
    return parse_qs(data.decode("utf-8", errors="replace"), keep_blank_values=True)


def first(fields: dict[str, list[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return values[0]


def check_csrf(request: Request) -> None:
    """The POST carries the session's form token (url-encoded forms and multipart uploads alike)."""
    content_type = (request.headers.get("content-type") or "").lower()
    if content_type.startswith("multipart/form-data"):
        part = read_multipart(request).get("csrf_token")
        sent = part.content.decode("utf-8", "replace") if part else ""
    else:
        sent = first(form(request), "csrf_token")
    if not hmac.compare_digest(sent, csrf_for(cookie(request, SESSION_COOKIE))):
        raise CsrfFailure("The form was not sent from this console (missing or wrong CSRF token).")


def render_page(template: str, **values: Any) -> str:
    """A page outside the console (the phones' pages): same templates, autoescaped."""
    return _env.get_template(template).render(**values)


def html(text: str, status: int = 200, headers: dict[str, Any] | None = None) -> Response:
    return Response(
        body=text,
        status_code=status,
        headers={"Content-Type": "text/html; charset=utf-8", **SECURITY_HEADERS, **(headers or {})},
    )


def redirect(location: str, headers: dict[str, Any] | None = None) -> Response:
    return Response(body="", status_code=303, headers={"Location": location, **SECURITY_HEADERS, **(headers or {})})


def query(request: Request, name: str) -> str:
    params: dict[str, str] = dict(request.query_params or {})
    return params.get(name, "")


def link(path: str, **params: str | None) -> str:
    clean = {k: v for k, v in params.items() if v}
    return f"{path}?{urlencode(clean)}" if clean else path


class Page:
    """What a view gets: the request, the context, the operator and a renderer that knows the page's root."""

    def __init__(self, request: Request, ctx: Context, actor: Operator | None) -> None:
        self.request = request
        self.ctx = ctx
        self.actor = actor
        self.root = root_of(request)
        self.csrf = csrf_for(cookie(request, SESSION_COOKIE)) if actor else ""

    @property
    def operator(self) -> Operator:
        assert self.actor is not None
        return self.actor

    def render(
        self, template: str, status: int = 200, headers: dict[str, Any] | None = None, **values: Any
    ) -> Response:
        page = _env.get_template(template).render(
            root=self.root, csrf=self.csrf, me=self.actor, section=section_of(self.request), **values
        )
        return html(page, status, headers)

    def go(self, path: str, **params: str | None) -> Response:
        return redirect(link(self.root + path, **params))

    def sealed(self, notes: list[str]) -> str:
        """Messages for the next page (a service's warnings after a redirect), signed with the session's form
        key so that a link from elsewhere cannot put words on the console's pages."""
        if not notes:
            return ""
        text = base64.urlsafe_b64encode("\n".join(notes).encode()).decode()
        return text + "." + hmac.new(self.csrf.encode(), text.encode(), hashlib.sha256).hexdigest()[:32]

    def unsealed(self, value: str) -> list[str]:
        text, _, mac = value.rpartition(".")
        expected = hmac.new(self.csrf.encode(), text.encode(), hashlib.sha256).hexdigest()[:32]
        if not text or not self.csrf or not hmac.compare_digest(mac, expected):
            return []
        try:
            return base64.urlsafe_b64decode(text.encode()).decode().split("\n")
        except ValueError:
            return []


View = Callable[..., Response]


def page(
    bp: Blueprint, path: str, methods: list[str] | None = None, *, public: bool = False, csrf_exempt: str = ""
) -> Callable[[View], View]:
    """Register a console page. Non-public pages need the session cookie (else: to the login page); every
    POST needs the session's CSRF token, checked here before the view runs, unless the route says in
    `csrf_exempt` why not; domain errors become error pages."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(**params: str) -> Response:
            request = bp.current_request
            with audit.origin(source_ip(request)):
                return secured(answer(request, **params), request)

        def answer(request: Request, **params: str) -> Response:
            ctx = bootstrap.context()
            current = Page(request, ctx, None)
            try:
                if not public:
                    current = Page(request, ctx, operators.authenticate(ctx, cookie(request, SESSION_COOKIE)))
                if request.method == "POST" and not csrf_exempt:
                    check_csrf(request)
                return view(current, **params)
            except Unauthorized:
                return current.go("login")
            except DomainError as exc:
                return error_page(current, exc)
            except Exception:
                log.exception("console error on %s %s", request.method, request.path)
                return current.render("error.html", status=500, message="An unexpected error occurred.")

        bp.route(CONSOLE_PREFIX + path, methods=methods or ["GET"], content_types=["*/*"])(wrapper)
        return wrapper

    return decorate


def error_page(current: Page, exc: DomainError) -> Response:
    """A domain error as a page, with the status (and Retry-After) its class declares, as the API answers."""
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return current.render("error.html", status=exc.status, headers=headers, message=exc.message)


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)
