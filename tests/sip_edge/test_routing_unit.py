"""The KEMI routing script against a mock KSR: the guard pipeline, replies, events and facts, and the names
Kamailio calls."""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.sip_edge import fake_ksr
from tests.sip_edge.conftest import SIP_EDGE_DIR

HA1 = hashlib.md5(b"1001:voice.example.com:secret", usedforsecurity=False).hexdigest()


@pytest.fixture
def ksr() -> fake_ksr.FakeKSR:
    return fake_ksr.install()


@pytest.fixture
def routing(ksr: fake_ksr.FakeKSR, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    table = tmp_path / "accounts.json"
    rows = [
        {"id": "acc-1", "username": "1001", "group_id": "g", "realm": "voice.example.com", "ha1": HA1,
         "keep_alive": True},
        {"id": "acc-2", "username": "1002", "group_id": "g", "realm": "voice.example.com", "ha1": None},
        {"id": "acc-3", "username": "1003", "group_id": "g", "realm": "voice.example.com", "ha1": HA1,
         "enabled": False},
    ]  # fmt: skip
    table.write_text(json.dumps({"accounts": rows}))
    monkeypatch.setenv("SIP_DIRECTORY", f"static:{table}")
    monkeypatch.setenv("SIP_DEFAULT_TRANSPORTS", "udp,tcp,tls")
    monkeypatch.setenv("SIP_EDGE_ID", "edge-unit")
    importlib.reload(importlib.import_module("calling"))  # routing imports it: both on this test's KSR mock
    module = importlib.import_module("routing")
    module = importlib.reload(module)
    module.state.reset()
    ksr.pvs.update({"$tU": "1001", "$td": "voice.example.com", "$si": "192.0.2.7", "$sp": 5070, "$pr": "udp",
                    "$Ri": "127.0.0.1", "$Rp": 5060, "$hdr(Contact)": "<sip:1001@192.0.2.7:5070>;expires=600",
                    "$ua": "PrivateGSM 5.0"})  # fmt: skip
    yield module


def _events(ksr: fake_ksr.FakeKSR) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in ksr.mqueue.items("edge_events")]


def test_every_callback_named_in_kamailio_cfg_exists_in_the_script(routing: ModuleType) -> None:
    cfg = (SIP_EDGE_DIR / "kamailio.cfg").read_text()
    named = set(re.findall(r"route=(\w+)", cfg)) | set(re.findall(r'"(ksr_\w+)"', cfg))
    assert named, "kamailio.cfg names no callbacks"
    script = routing.mod_init()
    for name in named | {"ksr_request_route"}:
        assert name in routing.CALLBACKS, name
        assert callable(getattr(script, name)), name
    assert set(routing.CALLBACKS) == {n for n in dir(script) if n.startswith("ksr_")}


def test_kamailio_cfg_names_the_routing_script() -> None:
    cfg = (SIP_EDGE_DIR / "kamailio.cfg").read_text()
    assert 'modparam("app_python3", "load", "routing.py")' in cfg
    assert 'cfgengine "python"' in cfg
    assert "request_route" not in cfg.replace("ksr_request_route", "")  # no native routing blocks


def test_a_register_without_credentials_is_challenged_with_the_accounts_realm(
    routing: ModuleType, ksr: fake_ksr.FakeKSR
) -> None:
    ksr.returns["auth.has_credentials"] = -1
    routing.route_request()
    assert ksr.args("auth.auth_challenge") == [("voice.example.com", routing.QOP_AUTH)]
    assert _events(ksr) == []


def test_a_valid_digest_saves_the_contact_and_reports_it(routing: ModuleType, ksr: fake_ksr.FakeKSR) -> None:
    routing.route_request()
    assert ksr.args("auth.pv_auth_check") == [("voice.example.com", HA1, 1, 1)]
    assert ksr.args("registrar.save") == [("location", 0x04)]
    [event] = _events(ksr)
    assert event["kind"] == "registered" and event["expires"] == 600 and event["account_id"] == "acc-1"
    assert (event["source"], event["transport"], event["edge"]) == ("192.0.2.7:5070", "udp", "edge-unit")
    [(kind, fact)] = ksr.mqueue.items("edge_facts")
    assert kind == "registered" and json.loads(fact)["keep_alive"] is True
    assert json.loads(fact)["socket"] == "udp:127.0.0.1:5060"


def test_the_ha1_never_reaches_events_or_logs(routing: ModuleType, ksr: fake_ksr.FakeKSR) -> None:
    ksr.returns["auth.pv_auth_check"] = -2
    routing.route_request()
    routing.route_request()
    everything = json.dumps(ksr.mqueue.items("edge_events") + ksr.mqueue.items("edge_facts"))
    logs = " ".join(str(args) for name, args in ksr.calls if name in ("info", "warn", "err"))
    assert HA1 not in everything and HA1 not in logs


@pytest.mark.parametrize(
    ("user", "auth_code", "phrase", "reason"),
    [
        ("nobody", 1, "Forbidden", "unknown_user"),
        ("1002", 1, "Forbidden", "not_activated"),
        ("1001", -2, "Forbidden", "wrong_password"),
        ("1003", 1, "Account disabled", "account_disabled"),
    ],
)
def test_refusals_answer_403_with_their_phrase_and_an_event(
    routing: ModuleType, ksr: fake_ksr.FakeKSR, user: str, auth_code: int, phrase: str, reason: str
) -> None:
    ksr.pvs["$tU"] = user
    ksr.returns["auth.pv_auth_check"] = auth_code
    routing.route_request()
    assert ksr.args("sl.sl_send_reply") == [(403, phrase)]
    assert [(e["kind"], e["reason"]) for e in _events(ksr)] == [("refused", reason)]
    assert ksr.args("registrar.save") == []


@pytest.mark.parametrize("user", ["1001", "1002", "nobody"])
def test_known_unknown_and_inactive_users_get_the_same_challenge_and_digest_check(
    routing: ModuleType, ksr: fake_ksr.FakeKSR, user: str
) -> None:
    ksr.pvs.update({"$tU": user, "$td": "other.example.net"})
    ksr.returns["auth.has_credentials"] = -1
    routing.route_request()
    assert ksr.args("auth.auth_challenge") == [("other.example.net", routing.QOP_AUTH)]
    ksr.returns["auth.has_credentials"] = 1
    ksr.returns["auth.pv_auth_check"] = -4  # a stale nonce: challenged again, whoever it is
    routing.route_request()
    assert ksr.args("auth.auth_challenge")[1] == ("other.example.net", routing.QOP_AUTH)
    [(realm, ha1, _, _)] = ksr.args("auth.pv_auth_check")
    assert realm == "other.example.net" and ha1 == (HA1 if user == "1001" else routing.DECOY_HA1)
    assert _events(ksr) == []


def test_a_registration_over_tcp_keeps_its_connection_open(routing: ModuleType, ksr: fake_ksr.FakeKSR) -> None:
    ksr.pvs["$pr"] = "tcp"
    routing.route_request()
    assert ksr.args("tcpops.tcp_set_connection_lifetime") == [(3600 + routing.TCP_LIFETIME_MARGIN,)]


def test_a_stale_nonce_is_challenged_again_not_refused(routing: ModuleType, ksr: fake_ksr.FakeKSR) -> None:
    ksr.returns["auth.pv_auth_check"] = -4
    routing.route_request()
    assert ksr.args("auth.auth_challenge") == [("voice.example.com", 1)]
    assert _events(ksr) == []


def test_expires_zero_is_an_unregistration(routing: ModuleType, ksr: fake_ksr.FakeKSR) -> None:
    ksr.pvs["$hdr(Contact)"] = "<sip:1001@192.0.2.7:5070>;expires=0"
    routing.route_request()
    assert [e["kind"] for e in _events(ksr)] == ["unregistered"]


def test_a_flooding_source_is_dropped_before_any_lookup(routing: ModuleType, ksr: fake_ksr.FakeKSR) -> None:
    ksr.returns["pike.pike_check_req"] = -1
    routing.route_request()
    assert ksr.names() == ["pike.pike_check_req"]


def test_a_malformed_request_stops_at_the_sanity_check(routing: ModuleType, ksr: fake_ksr.FakeKSR) -> None:
    ksr.returns["sanity.sanity_check_defaults"] = -1
    routing.route_request()
    assert "auth.auth_challenge" not in ksr.names() and _events(ksr) == []


def test_other_methods_are_refused_and_options_answered(routing: ModuleType, ksr: fake_ksr.FakeKSR) -> None:
    ksr.method = "MESSAGE"  # INVITE is a call now (calling.py)
    routing.route_request()
    ksr.method = "OPTIONS"
    routing.route_request()
    assert ksr.args("sl.sl_send_reply") == [(405, "Method Not Allowed"), (200, "OK")]


def test_an_unreachable_account_store_answers_503_quickly(
    routing: ModuleType, ksr: fake_ksr.FakeKSR, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SIP_DIRECTORY", "dynamodb")
    monkeypatch.setenv("SIP_SIDECAR_SOCKET", str(tmp_path / "nobody-listens.sock"))
    monkeypatch.setenv("SIP_BACKEND_TIMEOUT_SECONDS", "0.1")
    routing.state.reset()
    routing.route_request()
    assert ksr.args("sl.sl_send_reply") == [(503, "Account Store Unavailable")]
    assert ksr.args("hdr.append_to_reply") == [("Retry-After: 5\r\n",)]


def _registered_over_tcp_and_pinged(routing: ModuleType, ksr: fake_ksr.FakeKSR, mp: pytest.MonkeyPatch) -> None:
    mp.setenv("SIP_KEEPALIVE_SECONDS", "0")
    routing.state.reset()
    ksr.pvs.update({"$pr": "tcp", "$conid": 7})
    routing.route_request()
    _held_here(ksr, "sip:1001@192.0.2.7:5070")
    routing.run_registry()


def test_the_registry_timer_pings_flagged_contacts_through_uac(
    routing: ModuleType, ksr: fake_ksr.FakeKSR, monkeypatch: pytest.MonkeyPatch
) -> None:
    _registered_over_tcp_and_pinged(routing, ksr, monkeypatch)
    assert ksr.args("uac.uac_req_send") == [()]
    assert ksr.pvs["$uac_req(ouri)"] == "sip:192.0.2.7:5070;transport=tcp"
    assert ksr.pvs["$uac_req(sock)"] == "tcp:127.0.0.1:5060"
    assert ksr.pvs["$uac_req(method)"] == "OPTIONS"


def _held_here(ksr: fake_ksr.FakeKSR, contact: str, path: str = "<sip:127.0.0.1:5090;lr>") -> None:
    """The fleet's location (reg_fetch_contacts) has `contact` for the AOR, with a Path naming `path`'s task."""
    ksr.pvs.update({"$ulc(loc=>count)": 1, "$(ulc(loc=>addr)[0])": contact, "$(ulc(loc=>path)[0])": path,
                    "$(ulc(loc=>ruid)[0])": "ruid-1"})  # fmt: skip


def test_a_saved_contact_carries_a_path_naming_this_task_and_the_phone(
    routing: ModuleType, ksr: fake_ksr.FakeKSR, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIP_DMQ_ADDRESS", "10.0.0.5")
    routing.state.reset()
    ksr.pvs["$pr"] = "tcp"
    routing.route_request()
    assert ksr.args("hdr.remove") == [("Path",)]  # the phone's own Path is never trusted
    assert ("Path: <sip:10.0.0.5:5090;lr;received=sip%3A192.0.2.7%3A5070%3Btransport%3Dtcp>\r\n",) in ksr.args(
        "hdr.append"
    )
    names = ksr.names()
    assert names.index("textopsx.msg_apply_changes") < names.index("registrar.save")


def test_a_failed_ping_drops_only_this_tasks_contact_and_closes_the_connection(
    routing: ModuleType, ksr: fake_ksr.FakeKSR, monkeypatch: pytest.MonkeyPatch
) -> None:
    _registered_over_tcp_and_pinged(routing, ksr, monkeypatch)
    ksr.mqueue.mq_add("edge_facts", "ping_reply", json.dumps({"token": ksr.pvs["$uac_req(evparam)"], "code": 408}))
    routing.run_registry()
    assert ksr.args("registrar.unregister_ruid") == [("location", "sip:1001@voice.example.com", "ruid-1")]
    assert ksr.args("tcpops.tcp_close_connection_id") == [(7,)]
    assert [e["kind"] for e in _events(ksr)][-1] == "keepalive_failed"


def test_a_contact_another_task_holds_now_is_not_dropped_from_here(
    routing: ModuleType, ksr: fake_ksr.FakeKSR, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIP_KEEPALIVE_SECONDS", "0")
    routing.state.reset()
    routing.route_request()
    _held_here(ksr, "sip:1001@192.0.2.7:5070", path="<sip:10.0.0.9:5090;lr>")
    routing.run_registry()
    assert "uac.uac_req_send" not in ksr.names() and "registrar.unregister_ruid" not in ksr.names()


def test_another_tasks_expiring_copy_is_not_reported(routing: ModuleType, ksr: fake_ksr.FakeKSR) -> None:
    ksr.pvs.update({"$ulc(exp=>aor)": "1001", "$ulc(exp=>addr)": "sip:1001@192.0.2.7:5070",
                    "$ulc(exp=>path)": "<sip:10.0.0.9:5090;lr>"})  # fmt: skip
    routing.on_contact_expired()
    assert ksr.mqueue.items("edge_facts") == []
    ksr.pvs["$ulc(exp=>path)"] = "<sip:127.0.0.1:5090;lr;received=sip%3A192.0.2.7%3A5070>"
    routing.on_contact_expired()
    assert [kind for kind, _ in ksr.mqueue.items("edge_facts")] == ["expired"]


def test_a_call_relayed_by_another_task_goes_to_the_phone_connected_here(
    routing: ModuleType, ksr: fake_ksr.FakeKSR
) -> None:
    ksr.method = "INVITE"
    ksr.pvs.update({"$Ri": "127.0.0.1", "$Rp": 5090, "$du": "sip:192.0.2.7:5070;transport=tcp"})
    routing.route_request()
    assert ksr.names()[-4:] == ["dmq.is_from_node", "rr.loose_route", "rr.record_route", "tm.t_relay"]
    assert "auth.auth_challenge" not in ksr.names()  # the caller's task authenticated it
    ksr.calls.clear()
    ksr.returns["dmq.is_from_node"] = -1  # not a node of the bus
    routing.route_request()
    assert "tm.t_relay" not in ksr.names()


def test_a_wildcard_contact_is_left_to_the_registry_to_report(routing: ModuleType, ksr: fake_ksr.FakeKSR) -> None:
    ksr.pvs["$hdr(Contact)"] = "*"
    ksr.pvs["$hdr(Expires)"] = "0"
    routing.route_request()
    assert _events(ksr) == []
    [(kind, fact)] = ksr.mqueue.items("edge_facts")
    assert kind == "unregistered" and json.loads(fact)["contact"] == "*"


def test_kdmq_is_handled_only_on_the_internal_dmq_socket(
    routing: ModuleType, ksr: fake_ksr.FakeKSR, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIP_DMQ_PORT", "5090")
    routing.state.reset()
    ksr.pvs.update({"$rm": "KDMQ", "$Rp": 5060})
    routing.route_request()
    assert "dmq.handle_message" not in ksr.names() and "auth.auth_challenge" not in ksr.names()
    ksr.pvs["$Rp"] = 5090
    routing.route_request()
    assert ksr.args("dmq.handle_message") == [()]
