"""The call guards against the KSR mock: the callbacks they name exist, the 407 challenge, the edge's refusals,
and the pure parts (SDP reading, media plan, dialled numbers, results)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sipedge import limits as routing_limits
from sipedge.calls import (
    ANNOUNCEMENT_LANGUAGES,
    Media,
    Offer,
    Refusal,
    announcement_file,
    dialled_numbers,
    media_plan,
    result_of,
)
from sipedge.directory import Account

from chalicelib.domain.model import Language
from tests.sip_edge import fake_ksr
from tests.sip_edge.conftest import SIP_EDGE_DIR
from tests.sip_edge.test_routing_unit import HA1, ksr, routing  # noqa: F401  (their fixtures)

SDES_OFFER = "v=0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc\r\n"


def test_every_transaction_and_dialog_callback_the_calls_name_exists(routing: ModuleType) -> None:  # noqa: F811
    source = (SIP_EDGE_DIR / "calling.py").read_text()
    named = set(re.findall(r't_on_(?:reply|failure)\("(\w+)"\)', source))
    cfg = (SIP_EDGE_DIR / "kamailio.cfg").read_text()
    named |= set(re.findall(r'modparam\("dialog", "event_callback", "(\w+)"\)', cfg))
    named |= set(re.findall(r'^ANNOUNCEMENT_END = "(\w+)"', source, re.MULTILINE))  # async ms_route's
    assert {"ksr_call_reply", "ksr_call_failure", "ksr_dialog_event", "ksr_announcement_end"} <= named
    script = routing.mod_init()
    for name in named | {"ksr_onsend_route"}:
        assert callable(getattr(script, name, None)), name
        assert name in routing.CALLBACKS


def _invite(fake: fake_ksr.FakeKSR, from_user: str, from_domain: str = "voice.example.com") -> None:
    fake.method = "INVITE"
    fake.pvs.update({"$fU": from_user, "$rU": "1003", "$fd": from_domain, "$ci": "call-1", "$rb": SDES_OFFER,
                    "$tU": "1003", "$td": "voice.example.com"})  # fmt: skip


def _events(fake: fake_ksr.FakeKSR) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in fake.mqueue.items("edge_events")]


def test_an_invite_without_credentials_is_challenged_407_style(
    routing: ModuleType,  # noqa: F811
    ksr: fake_ksr.FakeKSR,  # noqa: F811
) -> None:
    _invite(ksr, "1001")
    ksr.returns["auth.has_credentials"] = -1
    routing.route_request()
    assert ksr.args("auth.auth_challenge") == [("voice.example.com", 1)], ksr.names()
    assert "tm.t_relay" not in ksr.names()


@pytest.mark.parametrize("user", ["1001", "1002", "nobody"])
def test_an_invite_of_a_known_unknown_or_inactive_user_gets_a_registers_challenge_and_digest_check(
    routing: ModuleType,  # noqa: F811
    ksr: fake_ksr.FakeKSR,  # noqa: F811
    user: str,
) -> None:
    """The realm is the From domain for everybody (not the account's own); the digest is checked against the
    decoy for an unknown or never-activated user, so a stale nonce is challenged again for all of them."""
    _invite(ksr, user, from_domain="other.example.net")
    ksr.returns["auth.has_credentials"] = -1
    routing.route_request()
    assert ksr.args("auth.auth_challenge") == [("other.example.net", routing.QOP_AUTH)]
    ksr.returns["auth.has_credentials"] = 1
    ksr.returns["auth.pv_auth_check"] = -4
    routing.route_request()
    assert ksr.args("auth.auth_challenge")[1] == ("other.example.net", routing.QOP_AUTH)
    [(realm, ha1, flags, checks)] = ksr.args("auth.pv_auth_check")
    assert (realm, flags, checks) == ("other.example.net", routing.AUTH_HA1, routing.AUTH_CHECK_ID)
    assert ha1 == (HA1 if user == "1001" else routing.DECOY_HA1)
    assert ksr.args("sl.sl_send_reply") == [] and _events(ksr) == []


@pytest.mark.parametrize(
    ("user", "auth_code", "reason"),
    [("nobody", 1, "unknown_user"), ("1002", 1, "not_activated"), ("1001", -2, "wrong_password"),
     ("1001", -8, "wrong_password")],  # -8: a valid digest of another user than the From user
)  # fmt: skip
def test_a_failed_invite_digest_is_one_403_forbidden_charged_to_the_source(
    routing: ModuleType,  # noqa: F811
    ksr: fake_ksr.FakeKSR,  # noqa: F811
    user: str,
    auth_code: int,
    reason: str,
) -> None:
    _invite(ksr, user)
    ksr.returns["auth.pv_auth_check"] = auth_code
    routing.route_request()
    assert ksr.args("sl.sl_send_reply") == [(403, "Forbidden")]
    assert [(e["kind"], e["reason"], e["username"]) for e in _events(ksr)] == [("refused", reason, user)]
    cost = [v for k, v in ksr.pvs.items() if k.startswith("$sht(cost=>192.0.2.7|")]
    assert cost == [routing_limits.CHALLENGE_SHARE]  # one whole unit of the source's flood limit
    assert "tm.t_relay" not in ksr.names()


def test_ten_wrong_invite_digests_lock_the_account_and_then_even_the_right_one_is_refused(
    routing: ModuleType,  # noqa: F811
    ksr: fake_ksr.FakeKSR,  # noqa: F811
) -> None:
    _invite(ksr, "1001")
    ksr.returns["auth.pv_auth_check"] = -2
    for _ in range(10):
        routing.route_request()
    assert [e["kind"] for e in _events(ksr)] == ["refused"] * 10 + ["locked_out"]
    assert _events(ksr)[-1]["account_id"] == "acc-1"
    ksr.returns["auth.pv_auth_check"] = 1  # the right password, now
    routing.route_request()
    assert ksr.args("sl.sl_send_reply")[-1] == (403, "Forbidden")
    assert _events(ksr)[-1]["reason"] == "locked_out"
    assert "tm.t_relay" not in ksr.names()
    ksr.pvs["$fU"] = "1003"  # another account is not affected by the lock: its digest is accepted
    routing.route_request()
    assert ksr.names().count("auth.consume_credentials") == 1


def test_a_register_and_an_invite_count_towards_the_same_lockout(
    routing: ModuleType,  # noqa: F811
    ksr: fake_ksr.FakeKSR,  # noqa: F811
) -> None:
    ksr.returns["auth.pv_auth_check"] = -2
    for _ in range(5):
        routing.route_request()  # REGISTER as 1001
    _invite(ksr, "1001")
    for _ in range(5):
        routing.route_request()
    assert _events(ksr)[-1]["kind"] == "locked_out"


def test_a_call_to_a_disabled_callee_is_480_with_its_event(
    routing: ModuleType,  # noqa: F811
    ksr: fake_ksr.FakeKSR,  # noqa: F811
) -> None:
    _invite(ksr, "1001")
    routing.route_request()
    assert ("480", "Temporarily Unavailable") in [(str(a[0]), a[1]) for a in ksr.args("sl.sl_send_reply")]
    [(_, body)] = ksr.mqueue.items("edge_events")
    assert '"reason":"callee_disabled"' in body and '"kind":"call_ended"' in body


def _account(model: str = "SDES", kind: str = "pgsm") -> Account:
    return Account(id="a", username="u", group_id="g", realm="r", security_model=model, account_type=kind)


@pytest.mark.parametrize(
    ("caller", "callee", "sdp", "plan"),
    [
        (_account(), _account(), SDES_OFFER, Media.SDES),
        (_account(), _account(kind="snom", model="ZRTP"), SDES_OFFER, Media.SDES),  # SNOM is always SDES
        (_account(), _account(), "m=audio 4000 RTP/AVP 0\r\n", Refusal.PLAIN_MEDIA),
        (_account(), _account("ZRTP"), SDES_OFFER, Refusal.MIXED_SECURITY),
        (_account("ZRTP"), _account("ZRTP"), "m=audio 4000 RTP/AVP 0\r\na=zrtp-hash:1.10 ab\r\n", Media.ZRTP),
        (_account(), _account(), "v=0\r\n", Refusal.NO_MEDIA),
    ],
)
def test_media_plan(caller: Account, callee: Account, sdp: str, plan: Media | Refusal) -> None:
    assert media_plan(caller, callee, Offer.read(sdp)) is plan


def test_dialled_numbers_and_results() -> None:
    assert dialled_numbers("+393470001") == ["+393470001", "393470001"]
    assert dialled_numbers("393470001") == ["393470001", "+393470001"]
    assert dialled_numbers("alice") == ["alice"]
    assert [result_of(c).value for c in (200, 486, 408, 603, 404, 500)] == [
        "answered", "busy", "no_answer", "rejected", "not_found", "failed"]  # fmt: skip
    assert result_of(487).value == result_of(0, cancelled=True).value == "cancelled"


OFFERED = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 30000 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"


def test_a_call_to_a_disabled_callee_plays_the_announcement_in_early_media_then_480(
    routing: ModuleType,  # noqa: F811
    ksr: fake_ksr.FakeKSR,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("en-callee_disabled", "it-callee_disabled"):
        (tmp_path / f"{name}.wav").write_bytes(b"RIFF")
    monkeypatch.setenv("SIP_ANNOUNCEMENTS_DIR", str(tmp_path))
    routing.state.reset()
    _invite(ksr, "1001")
    ksr.pvs["$ft"] = "caller-tag"
    ksr.returns["rtpengine.rtpengine_offer"] = lambda flags: ksr.pv.sets("$var(sdp_out)", OFFERED) or 1
    ksr.returns["rtpengine.rtpengine_answer"] = lambda flags: ksr.pv.sets("$var(sdp_out)", "v=0 for the caller") or 1
    ksr.returns["rtpengine.play_media"] = lambda flags: ksr.pv.seti("$avp(media_duration)", 2500) or 1
    routing.route_request()
    [answer_flags] = ksr.args("rtpengine.rtpengine_answer")
    assert "from-tag=caller-tag to-tag=announcement" in answer_flags[0]
    assert "m=audio 9 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n" in ksr.pvs["$var(sdp_in)"]  # the stand-in's answer
    assert ksr.args("textops.set_reply_body") == [("v=0 for the caller", "application/sdp")]
    assert ksr.args("tm.t_reply") == [(183, "Session Progress")]
    assert ksr.args("rtpengine.play_media") == [(f"file={tmp_path}/en-callee_disabled.wav",)]
    assert ksr.args("async.ms_route") == [("ksr_announcement_end", 2800)]
    assert ksr.args("tm.t_set_fr") == [(7800, 7800)]
    assert _events(ksr) == [] and "tm.t_relay" not in ksr.names()
    routing.mod_init().ksr_announcement_end(None)  # the async worker, once it has played
    assert ksr.args("tm.t_reply")[-1] == (480, "Temporarily Unavailable")
    [ended] = _events(ksr)
    assert (ended["kind"], ended["reason"], ended["sip_code"], ended["media_security"]) == (
        "call_ended", "callee_disabled", 480, "sdes")  # fmt: skip
    assert ksr.names().count("rtpengine.rtpengine_delete") == 1


def test_the_announcement_speaks_the_callers_language_and_english_otherwise(tmp_path: Path) -> None:
    for name in ("en-caller_disabled", "it-caller_disabled"):
        (tmp_path / f"{name}.wav").write_bytes(b"RIFF")
    assert announcement_file(str(tmp_path), "IT", Refusal.CALLER_DISABLED).endswith("/it-caller_disabled.wav")
    assert announcement_file(str(tmp_path), "", Refusal.CALLER_DISABLED).endswith("/en-caller_disabled.wav")
    assert announcement_file(str(tmp_path), "xx", Refusal.CALLER_DISABLED).endswith("/en-caller_disabled.wav")
    assert announcement_file(str(tmp_path), "it", Refusal.CALLEE_DISABLED) == ""  # not rendered: no announcement
    assert announcement_file(str(tmp_path), "it", Refusal.NOT_FOUND) == ""
    assert announcement_file("", "it", Refusal.CALLER_DISABLED) == ""


def test_every_language_has_both_messages_in_the_repository() -> None:
    lines = (SIP_EDGE_DIR / "announcements" / "messages.txt").read_text(encoding="utf-8").splitlines()
    rows = {tuple(line.split(" ", 2)[:2]) for line in lines if line and not line.startswith("#")}
    assert rows == {(lang, m) for lang in ANNOUNCEMENT_LANGUAGES for m in ("caller_disabled", "callee_disabled")}
    assert set(ANNOUNCEMENT_LANGUAGES) == {language.value for language in Language}
