"""Console pages. Each parses the form or query, calls one service function and renders or redirects."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import segno
from chalice.app import Blueprint, Response
from markupsafe import Markup

from chalicelib.api.calls import call_json
from chalicelib.api.http import read_multipart
from chalicelib.console import forms
from chalicelib.console.web import (
    IDLE_SECONDS,
    LOGIN_CSRF_COOKIE,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    Page,
    cookie,
    first,
    form,
    link,
    new_login_csrf,
    page,
    query,
    redirect,
    set_cookie,
)
from chalicelib.domain import resources, rules, timeline
from chalicelib.domain.csv_import import write_csv
from chalicelib.domain.declare import Shape
from chalicelib.domain.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidCursor,
    LicenceUnavailable,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from chalicelib.domain.import_job import JobStatus
from chalicelib.domain.model import STATUS_LABELS, Group, Operator, Role, Transport
from chalicelib.domain.model import Page as ModelPage
from chalicelib.domain.provisioning import MessageStatus, Purpose, segments
from chalicelib.domain.resources import BulkOutcome
from chalicelib.domain.search import InvalidQuery
from chalicelib.services import (
    accounts,
    activation,
    audit,
    bulk,
    calls,
    diagnostics,
    groups,
    imports,
    licensing,
    operators,
    registrations,
    sip_lockout,
)
from chalicelib.services import search as search_service
from chalicelib.services.context import Context
from chalicelib.services.search_port import BY_USERNAME, SearchDocument, SearchUnavailable

bp = Blueprint(__name__)
STATIC = Path(__file__).parent / "static"
PAGE_SIZE = 25
DONE_MESSAGES = {
    "created": "The account has been created.",
    "updated": "The account has been updated.",
    "enabled": "The account has been enabled.",
    "disabled": "The account has been disabled.",
    "deleted": "The account has been deleted.",
    "keys_revoked": "All keys have been revoked: the old SIP password no longer works, links and the app's licence "
    "token are void, and the account is disabled (its registrations are removed at the SIP edge's next check).",
    "sip_lockout_lifted": "The SIP lockout has been lifted; the account can register again within seconds.",
    "group_saved": "The group has been saved.",
    "group_deleted": "The group has been deleted.",
    "profile_saved": "The provisioning profile has been saved.",
    "profile_deleted": "The provisioning profile has been deleted.",
    "operator_saved": "The operator has been saved.",
    "operator_deleted": "The operator has been deleted.",
    "licence_refreshed": "The licence has been validated with the licence server.",
    "licence_unavailable": "The licence server could not be reached; the cached licence is kept.",
    "installation_sent_sms": "The installation SMS has been queued.",
    "activation_sent_sms": "The activation SMS has been queued.",
    "installation_sent_email": "The installation e-mail has been queued.",
    "activation_sent_email": "The activation e-mail has been queued.",
}


def _notes(p: Page) -> list[str]:
    return p.unsealed(query(p.request, "notes"))


def _done(p: Page) -> str:
    message = DONE_MESSAGES.get(query(p.request, "done"), "")
    parts = query(p.request, "parts")
    if message and "SMS" in message and parts and re.fullmatch(r"\d{1,2} \((GSM-7|UCS-2)\)", parts):
        message += f" It takes {parts} SMS segment(s)."
    return message


def _visible_groups(p: Page) -> list[Group]:
    return sorted(groups.list_groups(p.ctx, p.operator, 200, None).items, key=lambda g: g.name.lower())


# --- login ----------------------------------------------------------------------------------------------------


@page(bp, "/login", ["GET"], public=True)
def login_form(p: Page) -> Response:
    token = new_login_csrf()
    response = p.render("login.html", login_csrf=token, error="")
    response.headers["Set-Cookie"] = set_cookie(p.request, LOGIN_CSRF_COOKIE, token)
    return response


@page(bp, "/login", ["POST"], public=True, csrf_exempt="no session yet: checked against the login form's own cookie")
def login(p: Page) -> Response:
    fields = form(p.request)
    sent, expected = first(fields, "login_csrf"), cookie(p.request, LOGIN_CSRF_COOKIE)
    if not expected or sent != expected:
        return p.render("login.html", status=403, login_csrf=expected, error="The login form expired; try again.")
    data = {"username": first(fields, "username"), "password": first(fields, "password")}
    identity = (p.request.context or {}).get("identity") or {}
    user_agent = p.request.headers.get("user-agent") or ""
    try:
        result = operators.login(
            p.ctx, data, str(identity.get("sourceIp") or "unknown"), user_agent, idle_seconds=IDLE_SECONDS
        )
    except RateLimited as exc:  # the limit and the time left, as the API's 429 says
        response = p.render("login.html", status=429, login_csrf=expected, error=exc.message, username=data["username"])
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except (Unauthorized, ValidationFailed):
        error = "Wrong username or password."
        return p.render("login.html", status=401, login_csrf=expected, error=error, username=data["username"])
    cookies = [
        set_cookie(p.request, SESSION_COOKIE, result.token),
        set_cookie(p.request, LOGIN_CSRF_COOKIE, "", max_age=0),
    ]
    return redirect(p.root + "accounts", {"Set-Cookie": cookies})


@page(bp, "/logout", ["POST"])
def logout(p: Page) -> Response:
    operators.logout(p.ctx, cookie(p.request, SESSION_COOKIE))
    return redirect(p.root + "login", {"Set-Cookie": set_cookie(p.request, SESSION_COOKIE, "", max_age=0)})


@bp.route("/console", methods=["GET"], content_types=["*/*"])
def console_root() -> Response:
    return redirect("console/accounts")


@bp.route("/console/static/{name}", methods=["GET"], content_types=["*/*"])
def static(name: str) -> Response:
    types = {
        "console.css": "text/css; charset=utf-8",
        "console.js": "text/javascript; charset=utf-8",
        "mobile.css": "text/css; charset=utf-8",
    }
    if name not in types:
        return Response(body="not found", status_code=404, headers={"Content-Type": "text/plain"})
    body = (STATIC / name).read_text()
    return Response(
        body=body, headers={**SECURITY_HEADERS, "Content-Type": types[name], "Cache-Control": "max-age=300"}
    )


# --- accounts -------------------------------------------------------------------------------------------------


def _chosen_group(p: Page, visible: list[Group]) -> Group | None:
    """The group named by `?group_id=` (403/404 for one the operator cannot see), else the first visible one."""
    group_id = query(p.request, "group_id") or (visible[0].id if visible else "")
    group = next((g for g in visible if g.id == group_id), None)
    if group_id and group is None:
        group = groups.get_group(p.ctx, p.operator, group_id)
    return group


PAGE_SIZES = ("25", "50", "100")
LIST_PARAMS = ("q", "sort", "dir", "status", "enabled", "type", "sms", "size", "import_id")


@dataclass(frozen=True)
class ListState:
    """A list's state as its URL holds it (a link or a reload shows the same page): the account list and the
    other lists (registered accounts, imports, outbox, operators, audit) alike."""

    path: str  # the page, e.g. "accounts"
    fixed: dict[str, str]  # what chooses the list itself (the group), kept on every link
    params: dict[str, str]  # the search, order, filters and page size (empty ones left out)
    cursor: str
    trail: list[str]  # the cursors of the pages before this one ("" for the first): the way back
    default_sort: str = "username"
    default_dir: str = "asc"

    @property
    def group_id(self) -> str:
        return self.fixed.get("group_id", "")

    @property
    def size(self) -> int:
        return int(self.params.get("size", str(PAGE_SIZE)))

    @property
    def direction(self) -> str:
        return self.params.get("dir") or self.default_dir

    @property
    def page_number(self) -> int:
        return len(self.trail) + 1

    def pages(self, total: int | None) -> int:
        return -(-total // self.size) if total else 1

    def link(self, root: str, **changes: str) -> str:
        """This list with some parameters changed (a new order or filter starts again at the first page)."""
        params = {**self.params, **changes}
        return link(root + self.path, **self.fixed, **{k: v for k, v in params.items() if v})

    def page_link(self, root: str, cursor: str, trail: list[str]) -> str:
        way_back = ",".join(c or "-" for c in trail)  # "-": the first page
        return link(root + self.path, **self.fixed, **self.params, cursor=cursor, trail=way_back)

    def previous_link(self, root: str) -> str:
        return self.page_link(root, self.trail[-1] if self.trail else "", self.trail[:-1])

    def next_link(self, root: str, next_cursor: str) -> str:
        return self.page_link(root, next_cursor, [*self.trail, self.cursor])

    def sort_link(self, root: str, column: str) -> str:
        ascending = self.sorted_as(column) == "ascending"
        return self.link(root, sort=column, dir="desc" if ascending else "asc")

    def sorted_as(self, column: str) -> str:
        if self.params.get("sort", self.default_sort) != column:
            return "none"
        return "descending" if self.direction == "desc" else "ascending"


def _list_state(
    p: Page, path: str, names: Iterable[str], default_sort: str = "username", default_dir: str = "asc",
    **fixed: str,
) -> ListState:  # fmt: skip
    params = {name: query(p.request, name).strip() for name in (*names, "size") if query(p.request, name).strip()}
    if params.get("size") not in PAGE_SIZES:
        params.pop("size", None)
    given = query(p.request, "trail")
    trail = [("" if c == "-" else c) for c in given.split(",")][-50:] if given else []
    return ListState(path, fixed, params, query(p.request, "cursor"), trail, default_sort, default_dir)


@dataclass(frozen=True)
class Listed:
    """One page of a list with its state, total and the problem that kept it from being read (if any)."""

    state: ListState
    items: list[Any]
    next_cursor: str | None
    total: int | None
    problem: str = ""

    @property
    def pages(self) -> int:
        return self.state.pages(self.total)


def _listed(p: Page, state: ListState, fetch: Callable[[dict[str, str], int, str | None], ModelPage[Any]]) -> Listed:
    """The page the state asks for, from the service that owns the list (a refused parameter or a foreign
    cursor is said on the page, as the account list does)."""
    try:
        found = fetch(state.params, state.size, state.cursor or None)
    except (ValidationFailed, InvalidCursor) as exc:
        problem = " ".join(e.message for e in exc.errors) if isinstance(exc, ValidationFailed) else exc.message
        return Listed(state, [], None, None, problem)
    return Listed(state, found.items, found.next_cursor, found.total)


@page(bp, "/accounts")
def account_list(p: Page) -> Response:
    """The group's accounts: searched, filtered, sorted, a page of the chosen size, with the total; from the
    accounts table by username when nothing narrows or orders it (a new account shows at once), else from the
    search index."""
    visible = _visible_groups(p)
    job = imports.get_job(p.ctx, p.operator, query(p.request, "import_id")) if query(p.request, "import_id") else None
    group = groups.get_group(p.ctx, p.operator, job.group_id) if job else _chosen_group(p, visible)
    state = _list_state(p, "accounts", LIST_PARAMS, group_id=group.id if group else "")
    if job is not None:
        state.params["import_id"] = job.id
    size = state.size
    rows: list[dict[str, Any]] = []
    next_cursor, total, problem = None, None, ""
    try:
        listing = search_service.listing_from(state.params)
        if job is not None:  # the accounts an import created, in the file's order
            created = imports.created_accounts(p.ctx, p.operator, job.id)
            offset = int(state.cursor) if state.cursor.isdigit() else 0
            rows = [_row(search_service.document_of(a)) for a in created[offset : offset + size]]
            next_cursor, total = (str(offset + size) if len(created) > offset + size else None), len(created)
        elif group is not None and (state.params.get("q") or listing != BY_USERNAME):
            found = search_service.search_accounts(
                p.ctx, p.operator, group.id, state.params.get("q", ""), size, state.cursor or None, listing
            )
            rows, next_cursor, total = [_row(d) for d in found.items], found.next_cursor, found.total
        elif group is not None:
            page_ = accounts.list_accounts(p.ctx, p.operator, group.id, size, state.cursor or None)
            rows, next_cursor = [_row(search_service.document_of(a)) for a in page_.items], page_.next_cursor
            total = group.account_count
    except (InvalidQuery, SearchUnavailable, ValidationFailed, InvalidCursor) as exc:
        problem = (
            forms.plain(exc.errors[0].message, forms.ACCOUNT) if isinstance(exc, ValidationFailed) else exc.message
        )
    return p.render(
        "accounts.html", groups=visible, group=group, accounts=rows, next_cursor=next_cursor,
        q=state.params.get("q", ""), state=state, total=total, size=size, page_number=state.page_number,
        pages=state.pages(total), sizes=PAGE_SIZES, import_job=job,
        statuses=[(s.value, label) for s, label in STATUS_LABELS.items()],
        done=_done(p), problem=problem, can_write=bool(group and p.operator.can_write_group(group.id)),
    )  # fmt: skip


BULK_LABELS = {
    "enable": "Enable", "disable": "Disable", "send_installation_sms": "Send the installation SMS to",
    "send_activation_sms": "Send the activation SMS to", "export": "Export", "delete": "Delete",
}  # fmt: skip
BULK_DONE = {"send_installation_sms": "Installation SMS", "send_activation_sms": "Activation SMS"}
EXPORT_HEADER = ("username", "owner", "number", "secondary number", "e-mail", "type", "enabled", "status")


def _back_to_list(value: str) -> str:
    """Where the bulk pages lead back to: the list as it was (only an account list link is followed)."""
    return value if re.fullmatch(r"accounts\?[\w=&%.~+-]*", value) else "accounts"


@page(bp, "/accounts/bulk", ["POST"])
def account_bulk(p: Page) -> Response:
    """One action on the selected accounts: a confirmation naming how many (export needs none), then an
    outcome per account from the one service call."""
    fields = form(p.request)
    action, ids, back = first(fields, "action"), fields.get("ids", []), _back_to_list(first(fields, "back"))
    if action not in BULK_LABELS:
        raise ValidationFailed([FieldError("action", "invalid_choice", "Choose an action.")])
    if not ids:
        return p.render("bulk.html", status=422, stage="none", back=back, label=BULK_LABELS[action])
    if action != "export" and first(fields, "confirmed") != "yes":
        chosen = [a for a in (p.ctx.accounts.get_many(ids[: resources.BULK_MAX]) or {}).values()
                  if p.operator.can_read_group(a.group_id)]  # fmt: skip
        return p.render("bulk.html", stage="confirm", action=action, label=BULK_LABELS[action], ids=ids, back=back,
                        names=sorted(a.username for a in chosen))  # fmt: skip
    result = bulk.run(p.ctx, p.operator, {"action": action, "ids": ids})
    if action == "export":
        rows = (
            [a.username, a.full_name, a.phone_number, a.secondary_phone_number or "", a.email,
             a.account_type.value, "yes" if a.enabled else "no", a.status.value]
            for a in result.accounts
        )  # fmt: skip
        headers: dict[str, str | list[str]] = {
            **SECURITY_HEADERS,
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="accounts.csv"',
        }
        return Response(body="".join(write_csv(rows, EXPORT_HEADER)), headers=headers)
    counts = {o.value: result.count(o) for o in BulkOutcome}
    label = BULK_DONE.get(action, BULK_LABELS[action])
    return p.render("bulk.html", stage="done", action=action, label=label, result=result,
                    counts=counts, back=back)  # fmt: skip


@page(bp, "/registrations")
def registration_list(p: Page) -> Response:
    """Who is online now in one group (manual 1.1.4: Connected), from the SIP edge's events: sorted, filtered
    by transport, edge and username, a page with the total."""
    visible = _visible_groups(p)
    group = _chosen_group(p, visible)
    state = _list_state(p, "registrations", registrations.ONLINE.names(), group_id=group.id if group else "")
    listed = Listed(state, [], None, 0)
    if group is not None:
        listed = _listed(p, state, lambda params, size, cursor: registrations.online_listing(
            p.ctx, p.operator, group.id, params, size, cursor))  # fmt: skip
    return p.render("registrations.html", groups=visible, group=group, listed=listed, sizes=PAGE_SIZES,
                    transports=[t.value for t in Transport])  # fmt: skip


def _row(d: SearchDocument) -> dict[str, Any]:
    return {**d.__dict__, "status_changed_at": d.status_changed_at.replace("T", " ")[:19] + " UTC"}


def _account_form(
    p: Page,
    *,
    wizard: bool,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
    editing: bool = False,
    account: Any = None,
    number_check: NumberCheck | None = None,
) -> Response:
    profiles = groups.list_profiles(p.ctx, p.operator, 200, None).items
    writable = [g for g in _visible_groups(p) if p.operator.can_write_group(g.id)]
    return p.render(
        "account_form.html", wizard=wizard, editing=editing, account=account, values=values, errors=errors,
        groups_options=[(g.id, g.name) for g in writable], profiles_options=[(pr.id, pr.name) for pr in profiles],
        status=status, spec=forms.specs(forms.ACCOUNT), summary=forms.summary(errors, forms.ACCOUNT),
        number_check=number_check,
    )  # fmt: skip


def _require_writer(p: Page) -> None:
    """Forms that change accounts are for operators who may change some group's accounts (not viewers)."""
    if not any(p.operator.can_write_group(g.id) for g in _visible_groups(p)):
        raise Forbidden("Your role may look at accounts, not change them.")


@dataclass(frozen=True)
class NumberCheck:
    message: str
    confirm: str = ""  # the number the operator confirms by ticking the box
    confirm_label: str = ""


def _number_check(
    fields: dict[str, list[str]], data: dict[str, Any], check: accounts.NewAccountCheck, errors: dict[str, str]
) -> NumberCheck | None:
    """What the operator must see about the number before the account is saved: a national number's E.164
    spelling (filled in, to check and save), a short test number or a doubtful one (saved once confirmed)."""
    typed = str(data.get("phone_number") or "")
    if check.national and "phone_number" in errors:
        errors.pop("phone_number")
        data["phone_number"] = check.national
        return NumberCheck(
            f"{typed} has no country code: in the profile's default country it is {check.national}, now filled in "
            "above. Check it and press Create again."
        )
    if "phone_number" in errors or not typed:
        return None
    doubts = [forms.warning(w) for w in check.warnings if w.startswith("phone_number:")]
    if not doubts and not rules.is_short_number(typed):
        return None
    confirmed = first(fields, "confirm_number") == typed
    if confirmed:
        return None
    if rules.is_short_number(typed):
        return NumberCheck(
            f"{typed} is a short test number: this account cannot use automatic activation (no installation or "
            "activation SMS, no activation link), and the number cannot be changed later.",
            typed, f"Keep {typed} as a test number",
        )  # fmt: skip
    return NumberCheck(" ".join(doubts), typed, f"Keep {typed} as it is")


def _new_account(p: Page, wizard: bool) -> Response:
    _require_writer(p)
    if p.request.method == "GET":
        defaults = {
            "account_type": "PGSM",
            "security_model": "SDES",
            "obfuscation_enabled": True,
            "obfuscation_key": "9",
            "group_id": query(p.request, "group_id"),
        }
        if not wizard:
            defaults["username"] = rules.generate_username()
        return _account_form(p, wizard=wizard, values=defaults, errors={})
    fields = form(p.request)
    values: dict[str, Any] = {name: first(fields, name) for name in fields}
    values["obfuscation_enabled"] = "obfuscation_enabled" in fields
    values["keep_alive"] = "keep_alive" in fields
    data = forms.account_data(fields, editing=False, wizard=wizard)
    check = accounts.check_new_account(p.ctx, p.operator, data)
    errors = forms.field_errors(check.errors, forms.ACCOUNT)
    if not wizard and first(fields, "password") != first(fields, "password_repeat"):
        errors.update(forms.repeat_error())
    number_check = _number_check(fields, data, check, errors)
    values["phone_number"] = data.get("phone_number", values.get("phone_number"))
    if errors or number_check:
        return _account_form(p, wizard=wizard, values=values, errors=errors, status=422, number_check=number_check)
    try:
        result = accounts.create_account(p.ctx, p.operator, data)
    except (ValidationFailed, Conflict) as exc:
        errors = forms.errors_of(exc, forms.ACCOUNT)
        return _account_form(p, wizard=wizard, values=values, errors=errors, status=422)
    notes = [forms.warning(w) for w in result.warnings]
    return p.go(f"accounts/{result.account.id}", tab="configuration", done="created", notes=p.sealed(notes))


@page(bp, "/new-account", ["GET", "POST"])
def new_account(p: Page) -> Response:
    return _new_account(p, wizard=False)


@page(bp, "/new-account-wizard", ["GET", "POST"])
def new_account_wizard(p: Page) -> Response:
    return _new_account(p, wizard=True)


@dataclass(frozen=True)
class EventRow:
    at: Any
    label: str
    actor: str
    details: list[tuple[str, str]]
    changes: list[tuple[str, str, str]]


def _event_rows(p: Page, events: list[Any]) -> list[EventRow]:
    """Timeline events in plain words; an update as its changed fields, before and after (names, not ids)."""
    names = forms.labels(forms.ACCOUNT)
    ids = {g.id: g.name for g in _visible_groups(p)}
    ids |= {pr.id: pr.name for pr in groups.list_profiles(p.ctx, p.operator, 200, None).items}
    rows = []
    for e in events:
        changes = [(names.get(f, f), ids.get(before, before), ids.get(after, after))
                   for f, before, after in timeline.changes_of(e.detail)]  # fmt: skip
        actor = {"phone": "the phone", "sms-provider": "the SMS provider", "sip-edge": "the SIP edge"}.get(e.actor)
        rows.append(
            EventRow(e.at, timeline.label_of(e.kind), actor or e.actor, timeline.shown_details(e.detail), changes)
        )
    return rows


CALLS_PAGE = 10


@page(bp, "/accounts/{account_id}")
def account_details(p: Page, account_id: str) -> Response:
    account = accounts.get_account(p.ctx, p.operator, account_id)
    tab = query(p.request, "tab") or "state"
    full = query(p.request, "all") == "1"
    kind = query(p.request, "kind")
    try:
        history = accounts.history(p.ctx, p.operator, account.id, 100 if full else 10, kind)
    except ValidationFailed:
        kind, history = "", accounts.history(p.ctx, p.operator, account.id, 100 if full else 10)
    direction = "received" if query(p.request, "calls") == "received" else "placed"
    try:
        call_page = calls.list_calls(p.ctx, p.operator, account.id, direction, CALLS_PAGE,
                                     query(p.request, "calls_cursor") or None)  # fmt: skip
    except ValidationFailed:
        call_page = calls.list_calls(p.ctx, p.operator, account.id, direction, CALLS_PAGE, None)
    profile = p.ctx.profiles.get(account.provisioning_profile_id)
    group = p.ctx.groups.get(account.group_id)
    messages = activation.messages_of(p.ctx, p.operator, account.id, 100 if full else 10)
    licence = licensing.licence_view(p.ctx, p.operator, account.id)
    contacts = registrations.for_account(p.ctx, account)
    return p.render(
        "account.html", account=account, tab=tab, history=history, events=_event_rows(p, history.timeline),
        full=full, kind=kind, categories=list(timeline.CATEGORY_LABELS.items()), profile=profile, group=group,
        contacts=contacts, sip_locked=account.sip_locked(p.ctx.clock()),
        on_call=calls.in_progress(p.ctx, p.operator, account.id),
        calls=[call_json(r, account.id) for r in call_page.items], calls_next=call_page.next_cursor,
        calls_direction=direction, calls_paged=bool(query(p.request, "calls_cursor")),
        done=_done(p), notes=_notes(p), can_write=p.operator.can_write_group(account.group_id), messages=messages,
        licence=licence,
        can_activate=account.account_type.value == "PGSM" and account.has_international_number,
        can_email=account.account_type.value == "PGSM" and bool(account.email),
    )  # fmt: skip


def _send(p: Page, account_id: str, purpose: Purpose, channel: str = activation.SMS) -> Response:
    try:
        sent = activation.send_link(p.ctx, p.operator, account_id, purpose, channel)
    except Conflict as exc:
        return p.render("error.html", status=409, message=exc.message)
    encoding, parts = segments(sent.text)
    done = ("installation_sent" if purpose is Purpose.INSTALL else "activation_sent") + f"_{channel}"
    return p.go(f"accounts/{account_id}", tab="configuration", done=done, parts=f"{parts} ({encoding})")


@page(bp, "/accounts/{account_id}/installation-email", ["POST"])
def account_installation_email(p: Page, account_id: str) -> Response:
    return _send(p, account_id, Purpose.INSTALL, activation.EMAIL)


@page(bp, "/accounts/{account_id}/activation-email", ["POST"])
def account_activation_email(p: Page, account_id: str) -> Response:
    return _send(p, account_id, Purpose.ACTIVATE, activation.EMAIL)


@page(bp, "/accounts/{account_id}/licence-refresh", ["POST"])
def account_licence_refresh(p: Page, account_id: str) -> Response:
    try:
        served = licensing.refresh_for_operator(p.ctx, p.operator, account_id)
        done = "licence_refreshed" if served.source == "upstream" else "licence_unavailable"
    except LicenceUnavailable:
        done = "licence_unavailable"
    return p.go(f"accounts/{account_id}", tab="state", done=done)


@page(bp, "/health")
def health(p: Page) -> Response:
    """What phones are told (the public licence service URL) and whether it answers from here."""
    groups.require_admin(p.operator)
    url = f"{p.ctx.settings.public_base_url}/m/licence"
    return p.render("health.html", url=url, check=diagnostics.check_public_url(url))


@page(bp, "/accounts/{account_id}/installation-sms", ["POST"])
def account_installation_sms(p: Page, account_id: str) -> Response:
    return _send(p, account_id, Purpose.INSTALL)


@page(bp, "/accounts/{account_id}/activation-sms", ["POST"])
def account_activation_sms(p: Page, account_id: str) -> Response:
    return _send(p, account_id, Purpose.ACTIVATE)


@page(bp, "/accounts/{account_id}/activation-qr", ["POST"])
def account_activation_qr(p: Page, account_id: str) -> Response:
    """For devices without SMS (tablets): a fresh activation link as a QR code, shown once. Issuing it
    invalidates earlier activation links, exactly like sending a new activation SMS (which it also queues)."""
    try:
        sent = activation.send_link(p.ctx, p.operator, account_id, Purpose.ACTIVATE)
    except Conflict as exc:
        return p.render("error.html", status=409, message=exc.message)
    svg = segno.make(sent.link, error="m").svg_inline(scale=5, title="Activation link")
    return p.render("activation_qr.html", account=sent.account, qr=Markup(svg), link=sent.link)


@page(bp, "/outbox")
def outbox(p: Page) -> Response:
    """Text messages sent lately (to the accounts of the operator's groups), with their delivery state:
    sorted, filtered by delivery status, kind, channel and problem, a page with the total."""
    state = _list_state(p, "outbox", activation.OUTBOX.names(), "created_at", "desc")
    listed = _listed(p, state, lambda params, size, cursor: activation.outbox_listing(
        p.ctx, p.operator, params, size, cursor))  # fmt: skip
    return p.render("outbox.html", listed=listed, sizes=PAGE_SIZES, statuses=[m.value for m in MessageStatus])


@page(bp, "/accounts/{account_id}/edit", ["GET", "POST"])
def account_edit(p: Page, account_id: str) -> Response:
    account = accounts.get_account(p.ctx, p.operator, account_id)
    if not p.operator.can_write_group(account.group_id):
        raise Forbidden("You may not change accounts of this group.")
    values: dict[str, Any] = {**account.__dict__, "account_type": account.account_type.value,
                              "security_model": account.security_model.value,
                              "permit": "\n".join(account.permit), "deny": "\n".join(account.deny)}  # fmt: skip
    if p.request.method == "GET":
        return _account_form(p, wizard=False, values=values, errors={}, editing=True, account=account)
    fields = form(p.request)
    values.update({name: first(fields, name) for name in fields})
    values["obfuscation_enabled"] = "obfuscation_enabled" in fields
    values["keep_alive"] = "keep_alive" in fields
    data = forms.account_data(fields, editing=True)
    data.pop("phone_number", None), data.pop("secondary_phone_number", None)  # shown, not editable
    errors = forms.field_errors(accounts.check_update(p.ctx, p.operator, account.id, data), forms.ACCOUNT)
    if first(fields, "password") != first(fields, "password_repeat"):
        errors.update(forms.repeat_error())
    if not errors:
        try:
            accounts.update_account(p.ctx, p.operator, account.id, data)
            return p.go(f"accounts/{account.id}", tab="configuration", done="updated")
        except (ValidationFailed, Conflict) as exc:
            errors = forms.errors_of(exc, forms.ACCOUNT)
    return _account_form(p, wizard=False, values=values, errors=errors, status=422, editing=True, account=account)


def _account_action(p: Page, account_id: str, action: str) -> Response:
    if action == "delete":
        group_id = accounts.get_account(p.ctx, p.operator, account_id).group_id
        accounts.delete_account(p.ctx, p.operator, account_id)
        return p.go("accounts", group_id=group_id, done="deleted")
    try:
        accounts.set_enabled(p.ctx, p.operator, account_id, action == "enable")
    except Conflict as exc:
        return p.render("error.html", status=409, message=exc.message)
    return p.go(f"accounts/{account_id}", tab="configuration", done=f"{action}d")


@page(bp, "/accounts/{account_id}/revoke-keys", ["POST"])
def account_revoke_keys(p: Page, account_id: str) -> Response:
    accounts.revoke_keys(p.ctx, p.operator, account_id)
    return p.go(f"accounts/{account_id}", tab="configuration", done="keys_revoked")


@page(bp, "/accounts/{account_id}/sip-lockout-lift", ["POST"])
def account_sip_lockout_lift(p: Page, account_id: str) -> Response:
    sip_lockout.lift(p.ctx, p.operator, account_id)
    return p.go(f"accounts/{account_id}", tab="state", done="sip_lockout_lifted")


@page(bp, "/accounts/{account_id}/enable", ["POST"])
def account_enable(p: Page, account_id: str) -> Response:
    return _account_action(p, account_id, "enable")


@page(bp, "/accounts/{account_id}/disable", ["POST"])
def account_disable(p: Page, account_id: str) -> Response:
    return _account_action(p, account_id, "disable")


@page(bp, "/accounts/{account_id}/delete", ["POST"])
def account_delete(p: Page, account_id: str) -> Response:
    return _account_action(p, account_id, "delete")


# --- groups, profiles, operators, web sessions ----------------------------------------------------------------


@dataclass(frozen=True)
class Admin:
    """One of the admin-managed kinds: its declared shape, pages and service functions."""

    kind: str  # "group", "profile", "operator": templates <kind>s.html, messages <kind>_saved ...
    shape: Shape
    names: tuple[str, ...]
    create: Callable[[Context, Operator, dict[str, Any]], object]
    get: Callable[[Context, Operator, str], Any]
    update: Callable[[Context, Operator, str, dict[str, Any]], object]
    remove: Callable[[Context, Operator, str], None]


def _update_operator(ctx: Context, actor: Operator, operator_id: str, data: dict[str, Any]) -> object:
    return operators.update_operator(ctx, actor, operator_id, data)


ADMIN = {
    "groups": Admin("group", forms.GROUP, ("name", "it_email", "provisioning_profile_id", "enabled"),
                    groups.create_group, groups.get_group, groups.update_group, groups.delete_group),
    "profiles": Admin("profile", forms.PROFILE, forms.PROFILE.names(), groups.create_profile, groups.get_profile,
                      groups.update_profile, groups.delete_profile),
    "operators": Admin("operator", forms.OPERATOR, forms.OPERATOR.names(), operators.create_operator,
                       operators.get_operator, _update_operator, operators.delete_operator),
}  # fmt: skip
NEW_VALUES: dict[str, dict[str, Any]] = {
    "groups": {"enabled": True},
    "profiles": {"tls_port": 5061, "tcp_port": 5060, "udp_port": 5060, "default_transport": "tls", "transports": []},
    "operators": {"role": "operator", "enabled": True, "group_ids": []},
}


def _admin_page(
    p: Page,
    target: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
    item: Any = None,
    in_use: dict[str, Any] | None = None,
) -> Response:
    admin = ADMIN[target]
    errors = errors or {}
    listed = None
    if target == "operators":  # the operator list sorts, filters and pages like the others
        state = _list_state(p, "operators", operators.OPERATORS.names())
        listed = _listed(p, state, lambda params, size, cursor: operators.operator_listing(
            p.ctx, p.operator, params, size, cursor))  # fmt: skip
    return p.render(
        f"{target}.html", status=status, errors=errors, values=values or dict(NEW_VALUES[target]), done=_done(p),
        listed=listed, sizes=PAGE_SIZES,
        groups=_visible_groups(p), profiles=groups.list_profiles(p.ctx, p.operator, 200, None).items,
        operators=operators.list_operators(p.ctx, p.operator, 200, None).items if p.operator.role is Role.ADMIN else [],
        spec=forms.specs(admin.shape), summary=forms.summary(errors, admin.shape), item=item, in_use=in_use,
        profile_options=[(pr.id, pr.name) for pr in groups.list_profiles(p.ctx, p.operator, 200, None).items],
    )  # fmt: skip


def _admin_data(fields: dict[str, list[str]], target: str, *, editing: bool) -> dict[str, Any]:
    admin = ADMIN[target]
    data = forms.read(fields, admin.shape, admin.names, editing=editing)
    if "default_country" in data and isinstance(data["default_country"], str):
        data["default_country"] = data["default_country"].strip().upper()
    if target in ("profiles", "operators"):  # the ticked boxes; none ticked is an empty list
        name = "transports" if target == "profiles" else "group_ids"
        data[name] = fields.get(name, [])
    if target == "operators" and editing:
        data.pop("username", None)
        if not data.get("password"):
            data.pop("password", None)
    return data


def _admin_list_or_create(p: Page, target: str) -> Response:
    admin = ADMIN[target]
    if p.request.method == "GET":
        return _admin_page(p, target)
    groups.require_admin(p.operator)
    data = _admin_data(form(p.request), target, editing=False)
    try:
        admin.create(p.ctx, p.operator, data)
    except (ValidationFailed, Conflict) as exc:
        values = {**NEW_VALUES[target], **data, "password": ""}
        return _admin_page(p, target, errors=forms.errors_of(exc, admin.shape), values=values, status=422)
    return p.go(target, done=f"{admin.kind}_saved")


def _admin_edit(p: Page, target: str, item_id: str) -> Response:
    admin = ADMIN[target]
    groups.require_admin(p.operator)
    item = admin.get(p.ctx, p.operator, item_id)
    values = {name: _form_value(getattr(item, name, "")) for name in admin.names if name != "password"}
    if p.request.method == "GET":
        return _admin_page(p, target, values=values, item=item)
    data = _admin_data(form(p.request), target, editing=True)
    try:
        admin.update(p.ctx, p.operator, item_id, data)
    except (ValidationFailed, Conflict) as exc:
        values.update({k: v for k, v in data.items() if k != "password"})
        return _admin_page(p, target, errors=forms.errors_of(exc, admin.shape), values=values, status=422, item=item)
    return p.go(target, done=f"{admin.kind}_saved")


def _form_value(value: Any) -> Any:
    if isinstance(value, frozenset | tuple | list):
        return [getattr(v, "value", v) for v in value]
    return getattr(value, "value", value)


def _admin_delete(p: Page, target: str, item_id: str) -> Response:
    """Delete; one in use is explained on the list page itself, with the way to what still uses it."""
    admin = ADMIN[target]
    try:
        admin.remove(p.ctx, p.operator, item_id)
    except Conflict as exc:
        item = admin.get(p.ctx, p.operator, item_id)
        users = [g for g in _visible_groups(p) if getattr(g, "provisioning_profile_id", "") == item_id]
        in_use = {"message": exc.message, "item": item, "groups": users, "code": exc.code}
        return _admin_page(p, target, status=409, in_use=in_use)
    return p.go(target, done=f"{admin.kind}_deleted")


def _admin_routes(target: str) -> None:
    """The list (with its create form), edit and delete pages of one admin-managed kind."""

    def listing(p: Page) -> Response:
        if target == "operators":
            groups.require_admin(p.operator)
        return _admin_list_or_create(p, target)

    def edit(p: Page, item_id: str) -> Response:
        return _admin_edit(p, target, item_id)

    def delete(p: Page, item_id: str) -> Response:
        return _admin_delete(p, target, item_id)

    for view, suffix in ((listing, "list"), (edit, "edit"), (delete, "delete")):
        view.__name__ = view.__qualname__ = f"{ADMIN[target].kind}_{suffix}"
    page(bp, f"/{target}", ["GET", "POST"])(listing)
    page(bp, f"/{target}/{{item_id}}/edit", ["GET", "POST"])(edit)
    page(bp, f"/{target}/{{item_id}}/delete", ["POST"])(delete)


for _target in ADMIN:
    _admin_routes(_target)


@page(bp, "/batch", ["GET", "POST"])
def batch(p: Page) -> Response:
    """Batch creation: upload a CSV in the manual's format, choose group, default profile and policy."""
    _require_writer(p)
    writable = [g for g in _visible_groups(p) if p.operator.can_write_group(g.id)]
    profiles = groups.list_profiles(p.ctx, p.operator, 200, None).items
    if p.request.method == "GET":
        return p.render(
            "batch.html", groups=writable, profiles=profiles, error="", group_id=query(p.request, "group_id")
        )
    parts = read_multipart(p.request)
    text = {k: v.content.decode("utf-8", "replace") for k, v in parts.items() if k not in ("file", "csrf_token")}
    upload = parts.get("file")
    if upload is None or not upload.content:
        return p.render("batch.html", status=422, groups=writable, profiles=profiles, error="Choose a CSV file.",
                        group_id=text.get("group_id", ""))  # fmt: skip
    try:
        options = imports.options_from(text)
        job = imports.submit_upload(p.ctx, p.operator, text.get("group_id", ""), upload.filename or "upload.csv",
                                    upload.content, options)  # fmt: skip
    except ValidationFailed as exc:
        return p.render("batch.html", status=422, groups=writable, profiles=profiles, error=exc.errors[0].message,
                        group_id=text.get("group_id", ""))  # fmt: skip
    return p.go(f"imports/{job.id}")


@page(bp, "/imports")
def import_list(p: Page) -> Response:
    """The imports of the last weeks: sorted, filtered by status, source, dry run and group, a page with the
    total."""
    state = _list_state(p, "imports", imports.JOBS.names(), "created_at", "desc")
    listed = _listed(p, state, lambda params, size, cursor: imports.job_listing(
        p.ctx, p.operator, params, size, cursor))  # fmt: skip
    return p.render("imports.html", listed=listed, sizes=PAGE_SIZES, groups=_visible_groups(p),
                    statuses=[s.value for s in JobStatus])  # fmt: skip


@page(bp, "/imports/{job_id}")
def import_details(p: Page, job_id: str) -> Response:
    job = imports.get_job(p.ctx, p.operator, job_id)
    group = p.ctx.groups.get(job.group_id)
    return p.render("import.html", job=job, group=group, running=job.status in ("pending", "running"))


@page(bp, "/imports/{job_id}/result")
def import_result(p: Page, job_id: str) -> Response:
    body = b"".join(imports.result_file(p.ctx, p.operator, job_id)).decode()
    headers: dict[str, str | list[str]] = {**SECURITY_HEADERS, "Content-Type": "text/csv; charset=utf-8",
               "Content-Disposition": f'attachment; filename="import-{job_id[:40]}-result.csv"'}  # fmt: skip
    return Response(body=body, headers=headers)


def _local_time(text: str) -> str:
    """A datetime-local field (UTC, as the page says) as the ISO time the service takes."""
    return f"{text}:00Z" if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text) else text


AUDIT_PARAMS = ("operator", "target", "kind", "since", "until", "sort", "dir")
AUDIT_KIND_LABELS = {"account": "Accounts", "group": "Groups", "profile": "Provisioning profiles",
                     "operator": "Operators", "import": "Imports", "login": "Logins"}  # fmt: skip


@page(bp, "/audit")
def audit_trail(p: Page) -> Response:
    """The audit trail for administrators: who did what, when, from where; by operator, target, kind and time,
    newest or oldest first, a page with the total."""
    groups.require_admin(p.operator)
    state = _list_state(p, "audit", AUDIT_PARAMS, "at", "desc")

    def fetch(params: dict[str, str], size: int, cursor: str | None) -> ModelPage[Any]:
        since, until = _local_time(params.get("since", "")), _local_time(params.get("until", ""))
        filters = {**params, "since": since, "until": until}
        return audit.events(p.ctx, p.operator, filters, size, cursor)

    chain = audit.check(p.ctx) if query(p.request, "check") == "1" else None
    return p.render(
        "audit.html", listed=_listed(p, state, fetch), params=state.params, chain=chain, sizes=PAGE_SIZES,
        operators=operators.list_operators(p.ctx, p.operator, 200, None).items,
        kinds_labelled=[(k, AUDIT_KIND_LABELS[k]) for k in audit.AUDIT_KINDS],
        changes_of=timeline.changes_of, details_of=timeline.shown_details,
    )  # fmt: skip


@page(bp, "/web-sessions")
def web_sessions(p: Page) -> Response:
    return p.render("web_sessions.html", attempts=operators.recent_logins(p.ctx, p.operator, 200))
