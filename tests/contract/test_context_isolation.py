"""Contexts never share storage settings: building a second one leaves the first one's tables alone."""

from __future__ import annotations

import boto3

from chalicelib.domain.model import utcnow
from chalicelib.services import groups, operators
from tests.conftest import make_context


def test_two_contexts_write_to_their_own_tables(moto_url: str) -> None:
    first = make_context("dynamodb", moto_url)
    admin_1, _ = operators.ensure_admin(first, "admin-password-1")
    second = make_context("dynamodb", moto_url)  # built after the first: must not redirect it
    admin_2, _ = operators.ensure_admin(second, "admin-password-2")
    made = {}
    for name, ctx, admin in (("one", first, admin_1), ("two", second, admin_2)):
        profile = groups.create_profile(ctx, admin, {"name": name, "sip_domain": "d.example.com", "sip_host": "h"})
        made[name] = groups.create_group(
            ctx, admin, {"name": name, "it_email": "it@example.com", "provisioning_profile_id": profile.id}
        )
    assert first.groups.get(made["one"].id) is not None and first.groups.get(made["two"].id) is None
    assert second.groups.get(made["two"].id) is not None and second.groups.get(made["one"].id) is None
    client = boto3.client("dynamodb", endpoint_url=moto_url, region_name="eu-west-1")
    for name, ctx in (("one", first), ("two", second)):
        items = client.scan(TableName=ctx.settings.table_name("groups"))["Items"]
        assert [item["name"]["S"] for item in items] == [name]
    assert first.login_audit.recent(5, utcnow()) == [] and second.login_audit.recent(5, utcnow()) == []
