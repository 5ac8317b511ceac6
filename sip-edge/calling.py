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
from dataclasses import replace
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
    announcement_file,
    announcement_plan,
    announcement_wait_ms,
    call_event,
    dialled_numbers,
    media_plan,
    result_of,
    stand_in_answer,
)
from sipedge.directory import Account, DirectoryUnavailable
from sipedge.policy import refusal_after_auth
from sipedge.sipmsg import host_port

RETRY_AFTER_SECONDS = 5
CALL_VAR = "$dlg_var(call)"
MEDIA_VAR = "$dlg_var(media)"
CALLER_TAG_VAR = "$dlg_var(caller_tag)"
ENDED_VAR = "$dlg_var(ended)"
ANNOUNCED_AVP = "$avp(announced)"  # the announcement's refusal and call (the transaction keeps it while it waits)
MEDIA_DURATION_AVP = "$avp(media_duration)"  # rtpengine's play_media writes the file's length here (kamailio.cfg)
ANNOUNCEMENT_END = "ksr_announcement_end"
STAND_IN_TAG = "announcement"
ANNOUNCEMENT_GRACE_MS = 5000  # the rtpengine tag of the announcement's stand-in callee
CALLBACKS = ("ksr_call_reply", "ksr_call_failure", "ksr_dialog_event", ANNOUNCEMENT_END)
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


def _caller_party(account: Account) -> CallParty:
    return CallParty(
        account_id=account.id,
        username=account.username,
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


def authenticate() -> Account | None:
    """Exactly a REGISTER's digest guards (routing.py), with the From user and domain as the identity: one realm
    for everybody (the From domain), 407 then the digest against the stored HA1 or the decoy, the digest user
    must be the From user, one `403 Forbidden` for an unknown user, a wrong password, an account never activated
    or locked out; failures charged to the source and counted towards the account's lockout. A refusal here is
    no call of the account (it may not be the account at all): it goes to the account's History as the
    session event `refused`, like a REGISTER's, and makes no call record."""
    edge = _edge()
    request = edge.Request.read(caller=True)
    answered, found = edge.lookup(request)
    account: Account | None = found
    if answered:
        return None
    realm = request.to_domain
    if not edge.guard_credentials(realm) or not edge.guard_digest(request, account, realm):
        return None
    return account  # guard_digest has refused an unknown user


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
    caller = authenticate()
    if caller is None:
        return
    dialled = pv("$rU")
    context = CallContext(pv("$ci"), dialled, _caller_party(caller), CallParty())
    ok, callee = find_callee(dialled)
    if not ok:
        refuse(context, Refusal.ACCOUNT_STORE_DOWN, retry_after=True)
        return
    context = CallContext(context.call_id, dialled, context.caller, _party(callee, ""))
    refusal = check_parties(caller, callee)
    if refusal in (Refusal.CALLER_DISABLED, Refusal.CALLEE_DISABLED):
        announce(context, caller, refusal)
        return
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


# ----- the disabled account's announcement ---------------------------------------------------------------------


def announce(context: CallContext, caller: Account, refusal: Refusal) -> None:
    """A disabled caller or callee: `183 Session Progress` with rtpengine's SDP, the message (in the caller's
    language: the caller hears it) played by rtpengine to the caller, then the refusal's final answer once it
    has played (async_ms_route: no worker waits). Without a relay, a usable offer or the file: the refusal at once."""
    config = _edge().state.config()
    plan = announcement_plan(caller, Offer.read(pv("$rb")))
    path = announcement_file(config.announcements_dir, caller.language, refusal)
    if config.media_relay == "none" or plan is None or not path:
        refuse(context, refusal)
        return
    context = replace(context, media_security=plan.value)
    sdp = early_media(plan)
    if not sdp:
        KSR.rtpengine.rtpengine_delete("")
        refuse(context, refusal)
        return
    KSR.pv.sets(ANNOUNCED_AVP, json.dumps({"refusal": refusal.name, "call": context.to_json()}))
    if KSR.tm.t_newtran() < 0:
        KSR.rtpengine.rtpengine_delete("")
        KSR.sl.sl_reply_error()
        return
    KSR.textops.set_reply_body(sdp, "application/sdp")
    KSR.tm.t_reply(183, "Session Progress")
    played = KSR.rtpengine.play_media(f"file={path}") > 0
    wait = announcement_wait_ms(pv(MEDIA_DURATION_AVP)) if played else 0
    # a suspended transaction ends with 408 at its final-response timer: it must outlast the message
    KSR.tm.t_set_fr(wait + ANNOUNCEMENT_GRACE_MS, wait + ANNOUNCEMENT_GRACE_MS)
    # the KEMI module is `async`, a Python keyword: reached by name
    if not played or getattr(KSR, "async").ms_route(ANNOUNCEMENT_END, wait) < 0:
        end_announcement()


def early_media(plan: Media) -> str:
    """The caller's offer through one rtpengine session, answered by the stand-in: the SDP for the 183 ("" when
    rtpengine does not answer). SDES: rtpengine ends the caller's SRTP and offers keys of its own."""
    offer_flags = SDES_CALLER_LEG if plan is Media.SDES else ZRTP_FLAGS
    answer_flags = COMMON_FLAGS if plan is Media.SDES else ZRTP_FLAGS
    KSR.pv.sets("$var(sdp_in)", pv("$rb"))
    KSR.pv.sets("$var(sdp_out)", "")
    if KSR.rtpengine.rtpengine_offer(offer_flags) < 0 or not pv("$var(sdp_out)"):
        return ""
    KSR.pv.sets("$var(sdp_in)", stand_in_answer(pv("$var(sdp_out)")))
    KSR.pv.sets("$var(sdp_out)", "")
    # an answer in a request: without tags of its own the module would send the message's To tag as the offerer's
    # (a request that answers comes from the callee); a from-tag given makes it send both tags as they are
    tags = f"from-tag={pv('$ft')} to-tag={STAND_IN_TAG}"
    if KSR.rtpengine.rtpengine_answer(f"{answer_flags} {tags}") < 0:
        return ""
    return pv("$var(sdp_out)")


def end_announcement() -> None:
    """The announcement has played (ksr_announcement_end, in an async worker with the INVITE's transaction): the
    media goes and the refusal's final answer (403 for the disabled caller, 480 for the disabled callee) follows."""
    KSR.rtpengine.rtpengine_delete("")
    try:
        data = json.loads(pv(ANNOUNCED_AVP))
        refusal, context = Refusal[data["refusal"]], CallContext.from_json(data["call"])
    except (ValueError, KeyError, TypeError):
        KSR.tm.t_reply(500, "Server Internal Error")
        return
    KSR.tm.t_reply(refusal.code, refusal.phrase)
    emit("call_ended", context, sip_code=refusal.code, result=refusal.result.value, reason=refusal.reason)


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
