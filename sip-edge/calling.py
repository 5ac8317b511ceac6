"""Calls through the edge (KEMI, called from routing.py's pipeline): INVITE with digest auth, callee lookup,
relay to the callee's registered contact, media through rtpengine, call events. See docs/calls.md.

Guards return True to go on and False once they have answered the request. The transaction's callbacks
(`ksr_call_reply`, `ksr_call_failure`) and the dialog's (`ksr_dialog_event`) are methods of routing.kamailio
that land here. The call's context lives in the dialog variable `call` (JSON), so replies, failures, BYEs
and the dialog's end all find it.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import KSR  # type: ignore[import-not-found]  # provided by app_python3 inside Kamailio; a mock in the tests
from sipedge.calls import (
    COMMON_FLAGS,
    IDENTITY_HEADERS,
    SDES_CALLEE_LEG,
    SDES_CALLEE_LEG_SUFFIX,
    SDES_CALLER_LEG,
    ZRTP_FLAGS,
    CallContext,
    CallParty,
    Media,
    Offer,
    Refusal,
    call_event,
    dialled_numbers,
    media_plan,
    result_of,
)
from sipedge.directory import Account, DirectoryUnavailable
from sipedge.policy import refusal_after_auth
from sipedge.sipmsg import host_port

AUTH_HA1 = 1
QOP_AUTH = 1
AUTH_RECHALLENGE = (-4, -5, -6)
RETRY_AFTER_SECONDS = 5
CALL_VAR = "$dlg_var(call)"
MEDIA_VAR = "$dlg_var(media)"
CALLER_TAG_VAR = "$dlg_var(caller_tag)"
ENDED_VAR = "$dlg_var(ended)"
CALLBACKS = ("ksr_call_reply", "ksr_call_failure", "ksr_dialog_event")
ALLOW = "INVITE, ACK, BYE, CANCEL, UPDATE, PRACK, INFO"


def _guards() -> tuple[Any, ...]:
    return (guard_within_dialog, guard_cancel, guard_invite)


def _edge() -> Any:
    """routing.py (state, queue): imported when first needed, since routing imports this module."""
    return importlib.import_module("routing")


def pv(name: str) -> str:
    value = KSR.pv.get(name)
    return "" if value is None else str(value)


def emit(kind: str, context: CallContext, **fields: Any) -> None:
    edge = _edge()
    event = call_event(kind, context, edge=edge.state.config().edge_id, **fields)
    edge.queue(edge.EVENTS_QUEUE, kind, event)


def _party(account: Account | None, username: str = "") -> CallParty:
    return CallParty(account_id=account.id if account else "", username=account.username if account else username)


def _caller_party(account: Account | None, username: str) -> CallParty:
    return CallParty(
        account_id=account.id if account else "",
        username=account.username if account else username,
        transport=pv("$pr").lower(),
        address=host_port(pv("$si"), pv("$sp")),
    )


def refuse(context: CallContext, refusal: Refusal, *, retry_after: bool = False) -> bool:
    """The edge ends the attempt itself: one final reply and one `call_ended` event."""
    if retry_after:
        KSR.hdr.append_to_reply(f"Retry-After: {RETRY_AFTER_SECONDS}\r\n")
    KSR.sl.sl_send_reply(refusal.code, refusal.phrase)
    emit("call_ended", context, sip_code=refusal.code, result=refusal.result.value, reason=refusal.reason)
    return False


# ----- in-dialog requests and CANCEL ---------------------------------------------------------------------------


def guard_within_dialog() -> bool:
    """Requests with a To tag follow the Record-Route (ACK, BYE, re-INVITE, UPDATE, PRACK, INFO); a BYE ends the
    media and the call record; an ACK for a reply the edge sent itself is absorbed by tm."""
    if KSR.siputils.has_totag() < 0:
        return True
    if KSR.rr.loose_route() > 0:
        if KSR.is_BYE():
            end_dialog(200, "bye")
        elif (KSR.is_INVITE() or KSR.is_UPDATE()) and KSR.textops.has_body_type("application/sdp") > 0:
            reoffer()
        KSR.tm.t_on_reply("ksr_call_reply")
        KSR.tm.t_relay()
        return False
    if KSR.is_ACK():
        if KSR.tm.t_check_trans() > 0:
            KSR.tm.t_relay()
        return False
    KSR.sl.sl_send_reply(404, "Not here")
    return False


def guard_invite() -> bool:
    """A new call: everything else goes on to the registrar's guards."""
    if not KSR.is_INVITE():
        return True
    route_invite()
    return False


def guard_cancel() -> bool:
    """CANCEL goes the way of its INVITE's transaction (the callee's branch ends with 487)."""
    if not KSR.is_CANCEL():
        return True
    if KSR.tm.t_check_trans() > 0:
        KSR.tm.t_relay()
    return False


# ----- a new call ----------------------------------------------------------------------------------------------


def _lookup(find: Any, key: str) -> tuple[bool, Account | None]:
    """(ok, account); a directory that does not answer in time is a 503 for the phone."""
    try:
        return True, find(key)
    except DirectoryUnavailable as exc:
        KSR.warn(f"edge: account lookup failed for {key}: {exc}\n")
        return False, None


def find_callee(dialled: str) -> tuple[bool, Account | None]:
    """By username, else by primary or secondary number (as dialled, with or without its `+`)."""
    directory = _edge().state.directory()
    ok, account = _lookup(directory.find, dialled)
    for number in dialled_numbers(dialled):
        if not ok or account is not None:
            break
        ok, account = _lookup(directory.find_number, number)
    return ok, account


def authenticate(context: CallContext, from_user: str) -> Account | None:
    """407 with the caller's realm, then the digest against the stored HA1; the digest user must be the From user."""
    digest_user = pv("$au")
    ok, account = _lookup(_edge().state.directory().find, digest_user or from_user)
    if not ok:
        refuse(context, Refusal.ACCOUNT_STORE_DOWN, retry_after=True)
        return None
    realm = account.realm if account and account.realm else pv("$fd")
    if not digest_user or KSR.auth.has_credentials(realm) < 0:
        KSR.auth.auth_challenge(realm, QOP_AUTH)  # 407 for an INVITE
        return None
    if account is None or not account.ha1:
        refuse(context, Refusal.WRONG_PASSWORD)  # the same answer as a wrong password: nothing about who exists
        return None
    code = KSR.auth.pv_auth_check(realm, account.ha1, AUTH_HA1, 0)
    if code in AUTH_RECHALLENGE:
        KSR.auth.auth_challenge(realm, QOP_AUTH)
        return None
    if code < 0:
        refuse(context, Refusal.WRONG_PASSWORD)
        return None
    KSR.auth.consume_credentials()
    if digest_user.lower() != from_user.lower():
        refuse(context, Refusal.IDENTITY)
        return None
    return account


def caller_refusal(caller: Account) -> Refusal | None:
    refusal = refusal_after_auth(caller, pv("$si"), pv("$pr").lower(), _edge().state.config().default_transports)
    if refusal is None:
        return None
    return Refusal.CALLER_DISABLED if refusal.reason in ("account_disabled", "group_disabled") else Refusal.POLICY


def present_caller(caller: Account) -> None:
    """The callee sees the caller's primary virtual number; the phone's own identity headers go."""
    for name in IDENTITY_HEADERS:
        KSR.hdr.remove(name)
    number = caller.phone_number or caller.username
    domain = caller.realm or pv("$fd")
    KSR.hdr.append(f'P-Asserted-Identity: "{number}" <sip:{number}@{domain}>\r\n')
    KSR.uac.uac_replace_from(f'"{number}"', pv("$fu"))


def route_invite() -> None:
    """An INVITE out of dialog: authenticate, find the callee, check both, secure the media, relay."""
    from_user, dialled = pv("$fU"), pv("$rU")
    context = CallContext(call_id=pv("$ci"), dialled=dialled, caller=_caller_party(None, from_user),
                          callee=CallParty())  # fmt: skip
    caller = authenticate(context, from_user)
    if caller is None:
        return
    context = CallContext(context.call_id, dialled, _caller_party(caller, from_user), CallParty())
    ok, callee = find_callee(dialled)
    if not ok:
        refuse(context, Refusal.ACCOUNT_STORE_DOWN, retry_after=True)
        return
    context = CallContext(context.call_id, dialled, context.caller, _party(callee, ""))
    refusal = check_parties(caller, callee)
    if refusal is not None:
        refuse(context, refusal)
        return
    assert callee is not None
    plan = media_plan(caller, callee, Offer.read(pv("$rb")))
    if isinstance(plan, Refusal):
        refuse(context, plan)
        return
    context = CallContext(context.call_id, dialled, context.caller, context.callee, plan.value)
    relay(context, caller, callee, plan)


def check_parties(caller: Account, callee: Account | None) -> Refusal | None:
    refusal = caller_refusal(caller)
    if refusal is not None:
        return refusal
    if callee is None:
        return Refusal.NOT_FOUND
    if not callee.enabled or not callee.group_enabled:
        return Refusal.CALLEE_DISABLED
    return None


def relay(context: CallContext, caller: Account, callee: Account, plan: Media) -> None:
    # the fleet's location (routing.route_to): the phone's own connection, or the task that holds it
    contact = _edge().route_to(f"sip:{callee.username}@{callee.realm or pv('$rd')}")
    if contact is None:
        refuse(context, Refusal.NOT_REGISTERED)
        return
    hop = contact.received or contact.address
    context = CallContext(
        context.call_id, context.dialled, context.caller,
        CallParty(callee.id, callee.username, _transport_of(hop), _address_of(hop)),
        plan.value,
    )  # fmt: skip
    if not offer(plan):
        refuse(context, Refusal.MEDIA_RELAY_DOWN, retry_after=True)
        return
    present_caller(caller)
    KSR.dialog.dlg_manage()
    KSR.pv.sets(CALL_VAR, json.dumps(context.to_json(), separators=(",", ":")))
    KSR.pv.sets(MEDIA_VAR, plan.value)
    KSR.pv.sets(CALLER_TAG_VAR, pv("$ft"))
    KSR.rr.record_route()
    KSR.tm.t_on_reply("ksr_call_reply")
    KSR.tm.t_on_failure("ksr_call_failure")
    emit("call_started", context)
    if KSR.tm.t_relay() < 0:
        KSR.sl.sl_reply_error()


def _transport_of(uri: str) -> str:
    lowered = uri.lower()
    for name in ("tls", "tcp"):
        if f"transport={name}" in lowered:
            return name
    return "tls" if lowered.startswith("sips:") else "udp"


def _address_of(uri: str) -> str:
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    return rest.split(";", 1)[0].split("@")[-1]


# ----- media (rtpengine) ---------------------------------------------------------------------------------------


def _leg_b(flags: str) -> str:
    return f"{flags} call-id={pv('$ci')}{SDES_CALLEE_LEG_SUFFIX}"


def _legs(plan: str, from_caller: bool = True) -> list[str]:
    """The rtpengine sessions an SDP goes through, in its direction (see sipedge/calls.py)."""
    if plan == Media.ZRTP.value:
        return [ZRTP_FLAGS]
    if from_caller:
        return [SDES_CALLER_LEG, _leg_b(SDES_CALLEE_LEG)]
    return [_leg_b(SDES_CALLER_LEG), SDES_CALLEE_LEG]


def through(operation: str, legs: list[str]) -> bool:
    """The message's SDP through each session in turn (rtpengine reads $var(sdp_in) and writes $var(sdp_out),
    kamailio.cfg), then into the message."""
    sdp = pv("$rb")
    for flags in legs:
        KSR.pv.sets("$var(sdp_in)", sdp)
        KSR.pv.sets("$var(sdp_out)", "")
        run = KSR.rtpengine.rtpengine_offer if operation == "offer" else KSR.rtpengine.rtpengine_answer
        if run(flags) < 0 or not pv("$var(sdp_out)"):
            return False
        sdp = pv("$var(sdp_out)")
    KSR.textops.set_body(sdp, "application/sdp")
    return True


def offer(plan: Media) -> bool:
    """The INVITE's SDP through rtpengine: one session for ZRTP, two chained ones for SDES."""
    if _edge().state.config().media_relay == "none":
        return True
    if through("offer", _legs(plan.value)):
        return True
    delete_media(plan.value)
    return False


def answer(plan: str, offer_from_caller: bool = True) -> None:
    """An SDP answer (183/200) back through the same sessions in reverse order; an answer keeps what the offer
    set up (its own flags would override the protocol towards the offerer)."""
    if not plan or _edge().state.config().media_relay == "none":
        return
    if plan == Media.ZRTP.value:
        through("answer", [ZRTP_FLAGS])
        return
    second = COMMON_FLAGS
    legs = [_leg_b(COMMON_FLAGS), second] if offer_from_caller else [second, _leg_b(COMMON_FLAGS)]
    through("answer", legs)


def reoffer() -> None:
    """A re-INVITE or UPDATE with SDP inside the dialog: through the same sessions, in its own direction."""
    plan = pv(MEDIA_VAR)
    if plan and _edge().state.config().media_relay != "none":
        through("offer", _legs(plan, from_caller=pv("$ft") == pv(CALLER_TAG_VAR)))


def delete_media(plan: str = "") -> None:
    plan = plan or pv(MEDIA_VAR)
    if not plan or _edge().state.config().media_relay == "none":
        return
    KSR.rtpengine.rtpengine_delete("")
    if plan == Media.SDES.value:
        KSR.rtpengine.rtpengine_delete(f"call-id={pv('$ci')}{SDES_CALLEE_LEG_SUFFIX}")


# ----- transaction and dialog callbacks ------------------------------------------------------------------------


def _context() -> CallContext | None:
    raw = pv(CALL_VAR)
    if not raw:
        return None
    try:
        return CallContext.from_json(json.loads(raw))
    except (ValueError, KeyError, TypeError):
        return None


def on_reply() -> None:
    """A reply to a call's INVITE (or a re-INVITE): SDP answers through rtpengine; a 200 answers the call."""
    code = int(pv("$rs") or 0)
    if KSR.textops.has_body_type("application/sdp") > 0 and code in (183, 200):
        answer(pv(MEDIA_VAR), offer_from_caller=pv("$ft") == pv(CALLER_TAG_VAR))
    if code == 200 and KSR.is_method_in("I") and not pv("$dlg_var(answered)"):
        KSR.pv.sets("$dlg_var(answered)", "1")
        context = _context()
        if context is not None:
            emit("call_answered", context, sip_code=200)


def on_failure() -> None:
    """The call was not answered: the callee's final answer (486, 603, ...), 487 after CANCEL, 408 on no answer."""
    cancelled = KSR.tm.t_is_canceled() > 0
    code = int(pv("$T_reply_code") or 0) or (487 if cancelled else 408)
    delete_media()
    context = _context()
    if context is not None:
        emit("call_ended", context, sip_code=code, result=result_of(code, cancelled).value)
    KSR.pv.sets(ENDED_VAR, "1")


def end_dialog(code: int, reason: str) -> None:
    if pv(ENDED_VAR):
        return
    KSR.pv.sets(ENDED_VAR, "1")
    delete_media()
    context = _context()
    if context is not None:
        emit("call_ended", context, sip_code=code, result="answered", reason=reason)


def on_dialog_event(evname: str) -> None:
    """The dialog's end without a BYE through the edge (its timeout, both sides gone): the call ends here."""
    if evname == "dialog:end":
        end_dialog(200, "dialog_timeout")


GUARDS = _guards()  # in routing.py's pipeline, after flood and sanity, before the registrar's method guard
