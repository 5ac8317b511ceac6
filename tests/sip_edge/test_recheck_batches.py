"""The re-check's batched reads (BatchGetItem) against the control plane's real tables in moto's DynamoDB: the same
accounts, groups and profiles the single reads give, gone accounts as None, more ids than one batch takes."""

from __future__ import annotations

from sipedge.config import EdgeConfig
from sipedge.directory import DynamoDirectory

from chalicelib.services import accounts, groups
from tests.sip_edge.conftest import SipWorld


def test_batched_reads_see_what_single_reads_see(sip_world: SipWorld, moto_url: str) -> None:
    config = EdgeConfig(table_prefix=sip_world.ctx.settings.table_prefix, dynamodb_endpoint=moto_url,
                        region="eu-west-1")  # fmt: skip
    closed = sip_world.make_group("Closed soon")
    kept, disabled, in_closed, deleted = (sip_world.account(), sip_world.account(),
                                          sip_world.account(group_id=closed.id), sip_world.account())  # fmt: skip
    accounts.set_enabled(sip_world.ctx, sip_world.admin, disabled.id, False)
    groups.update_group(sip_world.ctx, sip_world.admin, closed.id, {"enabled": False})
    accounts.delete_account(sip_world.ctx, sip_world.admin, deleted.id)
    directory = DynamoDirectory(config)
    ids = [kept.id, disabled.id, in_closed.id, deleted.id, *(f"never-{n}" for n in range(150))]
    found = directory.by_ids(ids)
    assert list(found) == ids and not any(found[i] for i in ids[3:])
    for account in (kept, disabled, in_closed):
        assert found[account.id] == directory.find(account.username)
    assert (found[kept.id].enabled, found[disabled.id].enabled) == (True, False)  # type: ignore[union-attr]
    assert found[in_closed.id].group_enabled is False  # type: ignore[union-attr]
