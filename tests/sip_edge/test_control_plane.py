"""End to end: what the edge sends reaches the control plane's record_events, and the registrations list, the
account status and its History follow the phone."""

from __future__ import annotations

from chalicelib.domain.model import AccountStatus
from chalicelib.services import accounts, groups, registrations
from devstack.sip_edge import SipEdge, free_port
from tests.sip_edge.conftest import EventLog, SipWorld
from tests.sip_edge.sipp import Sipp, register_scenario


def _deliver(sip_world: SipWorld, event_log: EventLog, username: str, kind: str) -> None:
    event_log.wait_for(username, lambda e: e["kind"] == kind)
    registrations.record_events(sip_world.ctx, event_log.of(username))


def test_registration_and_unregistration_reach_the_registrations_list_and_status(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    group = sip_world.make_group("Online")
    account = sip_world.account(group_id=group.id)
    port = free_port()  # the same contact for both REGISTERs, as a real phone keeps it
    result = sipp.run(register_scenario(account.username, "sip-secret-1", expires=300), edge.udp_port, local_port=port)
    assert result.returncode == 0, result.errors + result.output
    _deliver(sip_world, event_log, account.username, "registered")

    online = registrations.online_in_group(sip_world.ctx, sip_world.admin, group.id, 50, None).items
    assert [(r.username, r.transport) for r in online] == [(account.username, "udp")]
    assert online[0].contact.endswith(f":{port};transport=UDP")
    assert accounts.get_account(sip_world.ctx, sip_world.admin, account.id).status is AccountStatus.CONNECTED

    result = sipp.run(register_scenario(account.username, "sip-secret-1", expires=0), edge.udp_port, local_port=port)
    assert result.returncode == 0, result.errors + result.output
    _deliver(sip_world, event_log, account.username, "unregistered")
    assert registrations.online_in_group(sip_world.ctx, sip_world.admin, group.id, 50, None).items == []
    assert accounts.get_account(sip_world.ctx, sip_world.admin, account.id).status is not AccountStatus.CONNECTED
    kinds = [entry.kind for entry in accounts.history(sip_world.ctx, sip_world.admin, account.id, 50).timeline]
    assert {"sip_registered", "sip_unregistered"} <= set(kinds)


def test_a_refusal_is_on_the_accounts_history(
    edge: SipEdge, sipp: Sipp, sip_world: SipWorld, event_log: EventLog
) -> None:
    account = sip_world.account()
    result = sipp.run(register_scenario(account.username, "wrong", expect=403, phrase="Forbidden"), edge.udp_port)
    assert result.returncode == 0, result.errors + result.output
    _deliver(sip_world, event_log, account.username, "refused")
    timeline = accounts.history(sip_world.ctx, sip_world.admin, account.id, 50).timeline
    refused = [entry for entry in timeline if entry.kind == "sip_refused"]
    assert len(refused) == 1
    assert refused[0].detail["reason"] == "wrong password"
    assert refused[0].detail["source"].startswith("127.0.0.1:")


def test_the_edge_reads_the_announcement_language_the_control_plane_stores_on_the_group(
    sip_world: SipWorld, moto_url: str
) -> None:
    from sipedge.config import EdgeConfig
    from sipedge.directory import DynamoDirectory

    group = sip_world.make_group("Italiani")
    groups.update_group(sip_world.ctx, sip_world.admin, group.id, {"language": "it"})
    account = sip_world.account(group_id=group.id)
    config = EdgeConfig(table_prefix=sip_world.ctx.settings.table_prefix, dynamodb_endpoint=moto_url)
    found = DynamoDirectory(config).find(account.username)
    assert found is not None and found.language == "it"
