"""Tables, queues, bucket, search domain and secrets in the synthesized template."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo_models import ALL_MODELS
from infra.tables import table_specs
from tests.infra.conftest import Synth


def _table_by_name(synth: Synth, name: str, stage: str = "dev") -> dict[str, Any]:
    prefix = synth.stacks[stage].config.table_prefix
    for resource in synth.resources("AWS::DynamoDB::Table", stage).values():
        if resource["Properties"]["TableName"] == f"{prefix}-{name}":
            properties: dict[str, Any] = resource["Properties"]
            return properties
    raise AssertionError(f"no table {prefix}-{name}")


def test_every_model_has_its_table_with_the_models_keys_and_indexes(synth: Synth) -> None:
    tables = synth.resources("AWS::DynamoDB::Table")
    assert len(tables) == len(ALL_MODELS)
    for spec in table_specs():
        table = _table_by_name(synth, spec.name)
        keys = {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]}
        expected = {spec.hash_key[0]: "HASH"} | ({spec.range_key[0]: "RANGE"} if spec.range_key else {})
        assert keys == expected, spec.name
        indexes = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}
        assert indexes == {index.name for index in spec.indexes}, spec.name


def test_registrations_table_has_the_online_by_group_index(synth: Synth) -> None:
    table = _table_by_name(synth, "registrations")
    assert {k["AttributeName"] for k in table["KeySchema"]} == {"account_id", "contact"}
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "online_by_group"
    assert index["KeySchema"][0] == {"AttributeName": "online_group_id", "KeyType": "HASH"}


def test_every_table_has_point_in_time_recovery_and_encryption_in_every_stage(synth: Synth) -> None:
    for stage in ("dev", "prod"):
        for name, table in synth.resources("AWS::DynamoDB::Table", stage).items():
            properties = table["Properties"]
            assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
            assert properties["SSESpecification"]["SSEEnabled"] is True, name
            assert properties["BillingMode"] == "PAY_PER_REQUEST", name


def test_accounts_stream_and_ttl_on_the_tables_whose_items_expire(synth: Synth) -> None:
    assert _table_by_name(synth, "accounts")["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    with_ttl = {spec.name for spec in table_specs() if spec.ttl}
    assert {"auth", "tokens", "licences", "registrations"} <= with_ttl
    for spec in table_specs():
        ttl = _table_by_name(synth, spec.name).get("TimeToLiveSpecification")
        if spec.name in with_ttl:
            assert ttl == {"AttributeName": "ttl", "Enabled": True}, spec.name
        else:
            assert ttl is None, spec.name


def test_production_tables_are_protected_and_kept(synth: Synth) -> None:
    for name, table in synth.resources("AWS::DynamoDB::Table", "prod").items():
        assert table["Properties"]["DeletionProtectionEnabled"] is True, name
        assert table["DeletionPolicy"] == "Retain", name
    for name, table in synth.resources("AWS::DynamoDB::Table", "dev").items():
        assert table["DeletionPolicy"] == "Delete", name


def test_every_queue_is_encrypted_and_every_work_queue_has_a_dead_letter_queue(synth: Synth) -> None:
    queues = synth.resources("AWS::SQS::Queue")
    dead_letter_targets = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    stack = synth.stacks["dev"]
    failure_destinations = {
        stack.get_logical_id(q.node.default_child)  # type: ignore[arg-type]
        for q in (stack.index_failures, stack.upload_failures)
    }  # what Lambda's event sources give up on: dead-letter queues themselves (tests/infra/test_app.py)
    work_queues = {name for name in queues if name not in dead_letter_targets | failure_destinations}
    assert len(work_queues) == 3 and len(dead_letter_targets) == 3
    names = {q["Properties"]["QueueName"] for q in queues.values()}
    assert {"pgsm-dev-sms.fifo", "pgsm-dev-sip-events", "pgsm-dev-import-chunks"} <= names
    for name in work_queues:
        assert queues[name]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    for name, queue in queues.items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, name


def _denies_insecure_transport(policy_document: dict[str, Any]) -> bool:
    return any(
        statement["Effect"] == "Deny" and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in policy_document["Statement"]
    )


def test_queues_and_buckets_refuse_requests_without_tls(synth: Synth) -> None:
    queue_policies = synth.resources("AWS::SQS::QueuePolicy")
    covered = {
        queue["Ref"]
        for policy in queue_policies.values()
        if _denies_insecure_transport(policy["Properties"]["PolicyDocument"])
        for queue in policy["Properties"]["Queues"]
    }
    assert covered == set(synth.resources("AWS::SQS::Queue"))
    bucket_policies = synth.resources("AWS::S3::BucketPolicy")
    covered_buckets = {
        policy["Properties"]["Bucket"]["Ref"]
        for policy in bucket_policies.values()
        if _denies_insecure_transport(policy["Properties"]["PolicyDocument"])
    }
    assert covered_buckets == set(synth.resources("AWS::S3::Bucket"))


def test_buckets_block_public_access_are_encrypted_and_expire_reports(synth: Synth) -> None:
    buckets = synth.resources("AWS::S3::Bucket")
    for name, bucket in buckets.items():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name
        assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"], name
    files = next(b["Properties"] for b in buckets.values() if "LoggingConfiguration" in b["Properties"])
    rules = {rule["Id"]: rule for rule in files["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-reports"]["Prefix"] == "results/"
    assert rules["expire-reports"]["ExpirationInDays"] == 30


def test_search_domain_is_encrypted_https_only_and_admits_only_its_writer_reader_and_admin(synth: Synth) -> None:
    from infra.application import API, INDEX_ACCOUNTS
    from infra.search import SEARCH_READ_ACTIONS

    for stage in ("dev", "prod"):
        stack = synth.stacks[stage]
        (domain,) = synth.resources("AWS::OpenSearchService::Domain", stage).values()
        properties = domain["Properties"]
        assert properties["EncryptionAtRestOptions"] == {"Enabled": True}
        assert properties["NodeToNodeEncryptionOptions"] == {"Enabled": True}
        assert properties["DomainEndpointOptions"]["EnforceHTTPS"] is True
        assert properties["DomainEndpointOptions"]["TLSSecurityPolicy"] == "Policy-Min-TLS-1-2-2019-07"
        security = properties["AdvancedSecurityOptions"]
        assert security["Enabled"] is True and security["InternalUserDatabaseEnabled"] is False

        admin, writer, reader = (
            {"Fn::GetAtt": [stack.get_logical_id(role.node.default_child), "Arn"]}  # type: ignore[arg-type]
            for role in (stack.search.admin_role, stack.roles[INDEX_ACCOUNTS], stack.roles[API])
        )
        assert security["MasterUserOptions"]["MasterUserARN"] == admin  # no function is the master user
        writes, reads = properties["AccessPolicies"]["Statement"]
        assert writes["Principal"] == {"AWS": [writer, admin]}
        assert reads["Principal"] == {"AWS": [reader]} and reads["Action"] == list(SEARCH_READ_ACTIONS)
        for statement in (writes, reads):
            assert statement["Effect"] == "Allow"
            assert all(action.startswith("es:ESHttp") and "*" not in action for action in statement["Action"])


def test_search_is_sized_by_the_stage_context(synth: Synth) -> None:
    dev = next(iter(synth.resources("AWS::OpenSearchService::Domain", "dev").values()))["Properties"]
    prod = next(iter(synth.resources("AWS::OpenSearchService::Domain", "prod").values()))["Properties"]
    assert dev["ClusterConfig"]["InstanceCount"] == 1
    assert dev["ClusterConfig"].get("DedicatedMasterEnabled") is False
    assert prod["ClusterConfig"]["InstanceCount"] == 2
    assert prod["ClusterConfig"]["DedicatedMasterCount"] == 3
    assert prod["ClusterConfig"]["ZoneAwarenessEnabled"] is True
    assert prod["EBSOptions"]["VolumeSize"] == 50


def test_the_api_gets_its_secrets_by_arn(synth: Synth) -> None:
    stack = synth.stacks["dev"]
    secrets = {stack.get_logical_id(s.node.default_child) for s in (stack.callback_secret, stack.licence_secret)}  # type: ignore[arg-type]
    assert secrets <= set(synth.resources("AWS::SecretsManager::Secret"))
    (function,) = (
        f for f in synth.resources("AWS::Serverless::Function").values() if f["Properties"]["Handler"] == "app.app"
    )
    variables = function["Properties"]["Environment"]["Variables"]
    assert {variables["SMS_CALLBACK_SECRET_ARN"]["Ref"], variables["LICENCE_UPSTREAM_SECRET_ARN"]["Ref"]} == secrets
    assert "TWILIO_SECRET_ARN" not in variables  # the API function: only the SMS sender holds Twilio's credentials
    assert "TWILIO_AUTH_TOKEN" not in variables and "LICENCE_UPSTREAM_TOKEN" not in variables
