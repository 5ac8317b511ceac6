"""The call guards against the KSR mock: the callbacks they name exist, the 407 challenge, the edge's refusals,
and the pure parts (SDP reading, media plan, dialled numbers, results)."""

from __future__ import annotations

import json
import re
from types import ModuleType
from typing import Any

import pytest
from sipedge import limits as routing_limits
from sipedge.calls import Media, Offer, Refusal, dialled_numbers, media_plan, result_of
from sipedge.directory import Account

from tests.sip_edge import fake_ksr
from tests.sip_edge.conftest import SIP_EDGE_DIR
from tests.sip_edge.test_routing_unit import HA1, ksr, routing  # noqa: F401  (their fixtures)

SDES_OFFER = "v=0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc\r\n"


def test_every_transaction_and_dialog_callback_the_calls_name_exists(routing: ModuleType) -> None:  # noqa: F811
    source = (SIP_EDGE_DIR / "calling.py").read_text()
    named = set(re.findall(r't_on_(?:reply|failure)\("(\w+)"\)', source))
    cfg = (SIP_EDGE_DIR / "kamailio.cfg").read_text()
    named |= set(re.findall(r'modparam\("dialog", "event_callback", "(\w+)"\)', cfg))
    assert {"ksr_call_reply", "ksr_call_failure", "ksr_dialog_event"} <= named
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
