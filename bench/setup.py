"""What every benchmark starts from: tables on the given settings, a context installed for the app's handlers,
an admin, a provisioning profile and a group. Settings without an import bucket and queue get their own on the
same endpoint (DynamoDB storage needs them since the import pipeline)."""

from __future__ import annotations

from dataclasses import replace

from chalicelib import bootstrap
from chalicelib.adapters.dynamo_models import create_tables
from chalicelib.adapters.passwords import Argon2Hasher
from chalicelib.domain.model import Group, Operator
from chalicelib.services import groups, operators
from chalicelib.services.context import Context
from chalicelib.settings import Settings
from devstack.events import create_import_resources


def bench_world(settings: Settings) -> tuple[Context, Operator, Group]:
    if not settings.imports_bucket and settings.dynamodb_endpoint:
        endpoint, name = settings.dynamodb_endpoint, f"{settings.table_prefix}-imports"
        queue_url = create_import_resources(endpoint, settings.region, name, name)
        settings = replace(settings, imports_bucket=name, s3_endpoint=endpoint, sqs_endpoint=settings.sqs_endpoint
                           or endpoint, import_queue_url=queue_url)  # fmt: skip
    create_tables(settings)
    ctx = replace(bootstrap.build(settings), hasher=Argon2Hasher(time_cost=1, memory_cost=1024))
    bootstrap.use(ctx)
    admin, _ = operators.ensure_admin(ctx, "bench-password")
    profile_data = {"name": "p", "sip_domain": "voice.example.com", "sip_host": "sip.example.com"}
    profile = groups.create_profile(ctx, admin, profile_data)
    group_data = {"name": "g", "it_email": "it@example.com", "provisioning_profile_id": profile.id}
    return ctx, admin, groups.create_group(ctx, admin, group_data)
