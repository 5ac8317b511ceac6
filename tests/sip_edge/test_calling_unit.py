"""The call guards against the KSR mock: the callbacks they name exist, the 407 challenge, the edge's refusals,
and the pure parts (SDP reading, media plan, dialled numbers, results)."""

from __future__ import annotations

import re
from types import ModuleType

import pytest
from sipedge.calls import Media, Offer, Refusal, dialled_numbers, media_plan, result_of
from sipedge.directory import Account

from tests.sip_edge import fake_ksr
from tests.sip_edge.conftest import SIP_EDGE_DIR
from tests.sip_edge.test_routing_unit import ksr, routing  # noqa: F401  (their fixtures)

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


def test_an_invite_without_credentials_is_challenged_407_style(
    routing: ModuleType,  # noqa: F811
    ksr: fake_ksr.FakeKSR,  # noqa: F811
) -> None:
    ksr.method = "INVITE"
    ksr.pvs.update({"$fU": "1001", "$rU": "1003", "$fd": "voice.example.com", "$ci": "call-1", "$au": None})
    routing.route_request()
    assert ksr.args("auth.auth_challenge") == [("voice.example.com", 1)], ksr.names()
    assert "tm.t_relay" not in ksr.names()


def test_a_call_to_a_disabled_callee_is_480_with_its_event(
    routing: ModuleType,  # noqa: F811
    ksr: fake_ksr.FakeKSR,  # noqa: F811
) -> None:
    ksr.method = "INVITE"
    ksr.pvs.update({"$fU": "1001", "$rU": "1003", "$fd": "voice.example.com", "$ci": "call-2", "$au": "1001",
                    "$rb": SDES_OFFER})  # fmt: skip
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
