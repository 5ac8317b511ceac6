"""REGISTER against the running edge with sipp: success over each transport, refusals, re-register, unregister,
expiry. Accounts are real items written by the control plane's services in moto's DynamoDB."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from chalicelib.services import accounts, groups
from devstack.sip_edge import SipEdge
from tests.sip_edge.conftest import EventLog, SipWorld
from tests.sip_edge.sipp import Sipp, register_scenario, stunnel_client


def test_registers_over_udp_and_reports_the_contact(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    account = sip_world.account()
    result = sipp.run(register_scenario(account.username, "sip-secret-1", expires=300), edge.udp_port, "u1")
    assert result.returncode == 0, result.errors + result.output
    event = event_log.wait_for(account.username, lambda e: e["kind"] == "registered")
    assert event["account_id"] == account.id
    assert event["transport"] == "udp"
    assert event["expires"] == 300
    assert event["user_agent"] == "sipp-test"
    assert event["contact"].startswith(f"sip:{account.username}@127.0.0.1:")
    assert event["source"].startswith("127.0.0.1:")
    assert event["edge"] == "edge-test"


def test_refuses_an_unknown_user_after_the_challenge(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    result = sipp.run(register_scenario("nobody77", "x", expect=403, phrase="Forbidden"), edge.udp_port)
    assert result.returncode == 0, result.errors + result.output
    event = event_log.wait_for("nobody77", lambda e: e["kind"] == "refused")
    assert event["reason"] == "unknown_user"
    assert event["account_id"] == ""


def _refused(edge: SipEdge, sipp: Sipp, event_log: EventLog, username: str, password: str, phrase: str,
             transport: str = "u1", port: int | None = None) -> dict[str, Any]:  # fmt: skip
    result = sipp.run(
        register_scenario(username, password, expect=403, phrase=phrase), port or edge.udp_port, transport
    )
    assert result.returncode == 0, result.errors + result.output
    return event_log.wait_for(username, lambda e: e["kind"] == "refused")


def test_refuses_a_wrong_password(edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog) -> None:
    account = sip_world.account()
    event = _refused(edge, sipp, event_log, account.username, "not-the-password", "Forbidden")
    assert (event["reason"], event["account_id"]) == ("wrong_password", account.id)


def test_refuses_a_disabled_account(edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog) -> None:
    account = sip_world.account()
    accounts.set_enabled(sip_world.ctx, sip_world.admin, account.id, False)
    event = _refused(edge, sipp, event_log, account.username, "sip-secret-1", "Account disabled")
    assert event["reason"] == "account_disabled"


def test_refuses_an_account_of_a_disabled_group(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    group = sip_world.make_group(f"Closed {uuid.uuid4().hex[:6]}")
    account = sip_world.account(group_id=group.id)
    groups.update_group(sip_world.ctx, sip_world.admin, group.id, {"enabled": False})
    event = _refused(edge, sipp, event_log, account.username, "sip-secret-1", "Group disabled")
    assert event["reason"] == "group_disabled"


def test_refuses_a_snom_phone_outside_its_permit_list(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    account = sip_world.account(account_type="snom", permit=["10.0.0.0/8"])
    event = _refused(edge, sipp, event_log, account.username, "sip-secret-1", "Address not permitted")
    assert event["reason"] == "not_permitted"


def test_deny_wins_over_permit_for_a_snom_phone(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    account = sip_world.account(account_type="snom", permit=["127.0.0.0/8"], deny=["127.0.0.1/32"])
    event = _refused(edge, sipp, event_log, account.username, "sip-secret-1", "Address denied")
    assert event["reason"] == "denied"


def test_a_snom_phone_inside_its_permit_list_registers(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    account = sip_world.account(account_type="snom", permit=["127.0.0.0/8"], deny=["10.0.0.0/8"])
    result = sipp.run(register_scenario(account.username, "sip-secret-1"), edge.udp_port)
    assert result.returncode == 0, result.errors + result.output
    event_log.wait_for(account.username, lambda e: e["kind"] == "registered")


def test_refuses_a_transport_the_profile_does_not_allow(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    profile = sip_world.profile_with_transports(f"tls-only {uuid.uuid4().hex[:6]}", ["tls"])
    account = sip_world.account(provisioning_profile_id=profile.id)
    event = _refused(edge, sipp, event_log, account.username, "sip-secret-1", "Transport not allowed")
    assert (event["reason"], event["transport"]) == ("transport_not_allowed", "udp")


def test_refuses_an_account_never_activated(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    account = sip_world.account(password=None, mode="wizard")
    event = _refused(edge, sipp, event_log, account.username, "anything", "Forbidden")
    assert (event["reason"], event["account_id"]) == ("not_activated", account.id)


def test_registers_over_tcp(edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog) -> None:
    account = sip_world.account()
    result = sipp.run(register_scenario(account.username, "sip-secret-1"), edge.tcp_port, "t1")
    assert result.returncode == 0, result.errors + result.output
    event = event_log.wait_for(account.username, lambda e: e["kind"] == "registered")
    assert event["transport"] == "tcp"


def test_registers_over_tls(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog, tmp_path: Path
) -> None:
    account = sip_world.account()
    with stunnel_client(tmp_path, edge.host, edge.tls_port) as port:
        result = sipp.run(register_scenario(account.username, "sip-secret-1"), port, "t1")
    assert result.returncode == 0, result.errors + result.output
    event = event_log.wait_for(account.username, lambda e: e["kind"] == "registered")
    assert event["transport"] == "tls"


def test_re_register_unregister_and_expiry(edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog) -> None:
    account = sip_world.account()
    for _ in range(2):
        result = sipp.run(register_scenario(account.username, "sip-secret-1", expires=120), edge.udp_port)
        assert result.returncode == 0, result.errors + result.output
    result = sipp.run(register_scenario(account.username, "sip-secret-1", expires=0), edge.udp_port)
    assert result.returncode == 0, result.errors + result.output
    event_log.wait_for(account.username, lambda e: e["kind"] == "unregistered")
    assert [e["kind"] for e in event_log.of(account.username)].count("registered") == 2

    result = sipp.run(register_scenario(account.username, "sip-secret-1", expires=2), edge.udp_port)
    assert result.returncode == 0, result.errors + result.output
    expired = event_log.wait_for(account.username, lambda e: e["kind"] == "expired", timeout=15)
    assert expired["account_id"] == account.id


def test_a_wildcard_unregister_reports_the_contact_it_removed(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    account = sip_world.account()
    result = sipp.run(register_scenario(account.username, "sip-secret-1", expires=300), edge.tcp_port, "t1")
    assert result.returncode == 0, result.errors + result.output
    registered = event_log.wait_for(account.username, lambda e: e["kind"] == "registered")
    result = sipp.run(register_scenario(account.username, "sip-secret-1", expires=0, wildcard=True), edge.udp_port)
    assert result.returncode == 0, result.errors + result.output
    unregistered = event_log.wait_for(account.username, lambda e: e["kind"] == "unregistered")
    assert unregistered["contact"] == registered["contact"]
