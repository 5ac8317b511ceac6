"""Server-side keep-alive (OPTIONS over the phone's own connection, only for flagged accounts; a silent phone is
dropped) and the removal of registrations when an account may no longer register."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.domain.errors import Conflict
from chalicelib.services import accounts, groups
from devstack.sip_edge import SipEdge
from tests.sip_edge.conftest import CACHE_SECONDS, KEEPALIVE_SECONDS, RECHECK_SECONDS, EventLog, SipWorld
from tests.sip_edge.rawsip import SipClient, status_line
from tests.sip_edge.sipp import Sipp, register_scenario, stunnel_client

HOLD_MS = (KEEPALIVE_SECONDS * 3 + 2) * 1000  # room for two pings even on a loaded machine


def test_flagged_account_is_pinged_over_its_tcp_connection(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    account = sip_world.account(keep_alive=True)
    scenario = register_scenario(account.username, "sip-secret-1", hold_ms=HOLD_MS)
    result = sipp.run(scenario, edge.tcp_port, "t1", answer_options=True)
    assert result.returncode == 0, result.errors + result.output
    assert result.count("OPTIONS sip:") >= 2, result.messages
    assert not [e for e in event_log.of(account.username) if e["kind"] == "keepalive_failed"]


def test_flagged_account_is_pinged_over_tls(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog, tmp_path: Path
) -> None:
    account = sip_world.account(keep_alive=True)
    scenario = register_scenario(account.username, "sip-secret-1", hold_ms=HOLD_MS)
    with stunnel_client(tmp_path, edge.host, edge.tls_port) as port:
        result = sipp.run(scenario, port, "t1", answer_options=True)
    assert result.returncode == 0, result.errors + result.output
    assert result.count("OPTIONS sip:") >= 2, result.messages
    registered = event_log.wait_for(account.username, lambda e: e["kind"] == "registered")
    assert registered["transport"] == "tls"


def test_account_without_keep_alive_is_never_pinged(edge: SipEdge, sipp: Sipp, sip_world: SipWorld) -> None:
    account = sip_world.account(keep_alive=False)
    scenario = register_scenario(account.username, "sip-secret-1", hold_ms=HOLD_MS)
    result = sipp.run(scenario, edge.tcp_port, "t1", answer_options=True)
    assert result.returncode == 0, result.errors + result.output
    assert result.count("OPTIONS sip:") == 0, result.messages


def test_a_silent_phone_is_dropped_with_an_event(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    account = sip_world.account(keep_alive=True)
    scenario = register_scenario(account.username, "sip-secret-1", expires=300, hold_ms=HOLD_MS)
    result = sipp.run(scenario, edge.udp_port, "u1", answer_options=False)
    assert result.returncode == 0, result.errors + result.output
    assert result.count("OPTIONS sip:") >= 1, result.messages  # pinged, never answered
    failed = event_log.wait_for(account.username, lambda e: e["kind"] == "keepalive_failed", timeout=15)
    assert failed["account_id"] == account.id


def test_a_silent_phone_over_tcp_has_its_connection_closed(
    edge: SipEdge, sip_world: SipWorld, event_log: EventLog
) -> None:
    account = sip_world.account(keep_alive=True)
    phone = SipClient(edge.host, edge.tcp_port, transport="tcp", timeout=KEEPALIVE_SECONDS * 6)
    assert status_line(phone.login(account.username, "sip-secret-1", expires=300)[1]) == "SIP/2.0 200 OK"
    assert phone.receive().startswith("OPTIONS sip:")  # pinged over its connection, never answers
    with pytest.raises(ConnectionError):  # then the edge closes it, so the phone notices and registers again
        while True:
            phone.receive()
    event_log.wait_for(account.username, lambda e: e["kind"] == "keepalive_failed")
    phone.close()


def _registered(edge: SipEdge, sipp: Sipp, username: str) -> None:
    result = sipp.run(register_scenario(username, "sip-secret-1", expires=300), edge.udp_port)
    assert result.returncode == 0, result.errors + result.output


def test_disabling_an_account_removes_it_and_refuses_it(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    account = sip_world.account()
    _registered(edge, sipp, account.username)
    accounts.set_enabled(sip_world.ctx, sip_world.admin, account.id, False)
    removed = event_log.wait_for(account.username, lambda e: e["kind"] == "removed", timeout=RECHECK_SECONDS * 4)
    assert removed["reason"] == "account_disabled"
    import time

    time.sleep(CACHE_SECONDS + 0.5)  # the worker's and the sidecar's caches have let the old answer go
    result = sipp.run(register_scenario(account.username, "sip-secret-1", expect=403, phrase="Account disabled"),
                      edge.udp_port)  # fmt: skip
    assert result.returncode == 0, result.errors + result.output


def test_deleting_an_account_removes_its_registration(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    account = sip_world.account()
    _registered(edge, sipp, account.username)
    accounts.delete_account(sip_world.ctx, sip_world.admin, account.id)
    removed = event_log.wait_for(account.username, lambda e: e["kind"] == "removed", timeout=RECHECK_SECONDS * 4)
    assert removed["reason"] == "account_deleted"


def test_disabling_a_group_removes_its_registrations(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    group = sip_world.make_group("Soon closed")
    account = sip_world.account(group_id=group.id)
    _registered(edge, sipp, account.username)
    groups.update_group(sip_world.ctx, sip_world.admin, group.id, {"enabled": False})
    removed = event_log.wait_for(account.username, lambda e: e["kind"] == "removed", timeout=RECHECK_SECONDS * 4)
    assert removed["reason"] == "group_disabled"


def test_revoking_all_keys_removes_the_registration_and_the_old_password_is_refused(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    account = sip_world.account()
    _registered(edge, sipp, account.username)
    revoked = accounts.revoke_keys(sip_world.ctx, sip_world.admin, account.id)  # what the console's button calls
    assert revoked.credentials is None and not revoked.enabled
    removed = event_log.wait_for(account.username, lambda e: e["kind"] == "removed", timeout=RECHECK_SECONDS * 4)
    assert removed["reason"] == "account_disabled"
    import time

    time.sleep(CACHE_SECONDS + 0.5)
    # the old password no longer matches anything: the digest is gone (refused before the account's state)
    result = sipp.run(register_scenario(account.username, "sip-secret-1", expect=403, phrase="Forbidden"),
                      edge.udp_port)  # fmt: skip
    assert result.returncode == 0, result.errors + result.output
    refused = event_log.wait_for(account.username, lambda e: e["kind"] == "refused")
    assert (refused["account_id"], refused["reason"]) == (account.id, "not_activated")
    with pytest.raises(Conflict):  # a plain account needs a new password before it is enabled again
        accounts.set_enabled(sip_world.ctx, sip_world.admin, account.id, True)
