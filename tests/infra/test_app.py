"""The Chalice app in the template: its functions, their event sources, configuration and permissions."""

from __future__ import annotations

import json
import re
from typing import Any

from infra import application as handlers
from tests.infra.conftest import Synth


def _functions(synth: Synth, stage: str = "dev") -> dict[str, dict[str, Any]]:
    return synth.resources("AWS::Serverless::Function", stage)


def _logical_id(synth: Synth, construct: Any, stage: str = "dev") -> str:
    return synth.stacks[stage].get_logical_id(construct.node.default_child)


def test_app_defines_every_handler_the_deployment_wires(synth: Synth) -> None:
    assert set(_functions(synth)) == {handler.logical_id for handler in handlers.ALL_HANDLERS}


def test_queue_handlers_consume_this_stacks_queues(synth: Synth) -> None:
    stack = synth.stacks["dev"]
    expected = {
        handlers.SEND_SMS.logical_id: stack.sms.queue,
        handlers.RECORD_SIP_EVENTS.logical_id: stack.sip_events.queue,
        handlers.RUN_IMPORT_CHUNK.logical_id: stack.imports.queue,
    }
    functions = _functions(synth)
    for logical_id, queue in expected.items():
        if logical_id not in functions:
            continue  # reported by test_app_defines_every_handler_the_deployment_wires
        (event,) = functions[logical_id]["Properties"]["Events"].values()
        assert event["Type"] == "SQS"
        assert event["Properties"]["Queue"] == {"Fn::GetAtt": [_logical_id(synth, queue), "Arn"]}


def test_stream_handler_reads_the_accounts_table_stream(synth: Synth) -> None:
    accounts = _logical_id(synth, synth.stacks["dev"].tables["accounts"])
    (event,) = _functions(synth)[handlers.INDEX_ACCOUNTS.logical_id]["Properties"]["Events"].values()
    assert event["Type"] == "DynamoDB"
    assert event["Properties"]["Stream"] == {"Fn::GetAtt": [accounts, "StreamArn"]}
    assert event["Properties"]["StartingPosition"] == "TRIM_HORIZON"


def test_new_csv_files_in_the_drop_folder_invoke_the_import_function(synth: Synth) -> None:
    (notifications,) = synth.resources("Custom::S3BucketNotifications").values()
    (config,) = notifications["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    assert config["Events"] == ["s3:ObjectCreated:*"]
    assert config["LambdaFunctionArn"] == {"Fn::GetAtt": [handlers.IMPORT_OBJECT_CREATED.logical_id, "Arn"]}
    rules = {rule["Name"]: rule["Value"] for rule in config["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": "imports/", "suffix": ".csv"}
    bucket = _logical_id(synth, synth.stacks["dev"].storage.bucket)
    assert notifications["Properties"]["BucketName"] == {"Ref": bucket}
    permissions = [
        p["Properties"]
        for p in synth.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "s3.amazonaws.com"
    ]
    assert [p["SourceArn"] for p in permissions] == [{"Fn::GetAtt": [bucket, "Arn"]}]


def test_sms_consumer_runs_one_at_a_time_and_queues_outlast_their_consumers(synth: Synth) -> None:
    functions = _functions(synth)
    assert functions[handlers.SEND_SMS.logical_id]["Properties"]["ReservedConcurrentExecutions"] == 1
    queues = synth.resources("AWS::SQS::Queue")
    stack = synth.stacks["dev"]
    for handler, work in (
        (handlers.SEND_SMS, stack.sms),
        (handlers.RECORD_SIP_EVENTS, stack.sip_events),
        (handlers.RUN_IMPORT_CHUNK, stack.imports),
    ):
        visibility = queues[_logical_id(synth, work.queue)]["Properties"]["VisibilityTimeout"]
        assert visibility >= 6 * handler.timeout_seconds


def test_every_function_gets_names_and_endpoints_from_the_stack_not_literals(synth: Synth) -> None:
    stack = synth.stacks["dev"]
    for name, function in _functions(synth).items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["TABLE_PREFIX"] == "pgsm-dev"
        assert variables["SMS_QUEUE_URL"] == {"Ref": _logical_id(synth, stack.sms.queue)}, name
        assert variables["SIP_EVENTS_QUEUE_URL"] == {"Ref": _logical_id(synth, stack.sip_events.queue)}, name
        assert variables["IMPORT_QUEUE_URL"] == {"Ref": _logical_id(synth, stack.imports.queue)}, name
        assert variables["IMPORTS_BUCKET"] == {"Ref": _logical_id(synth, stack.storage.bucket)}, name
        assert variables["ACCOUNTS_STREAM_ARN"] == {
            "Fn::GetAtt": [_logical_id(synth, stack.tables["accounts"]), "StreamArn"]
        }, name
        assert "DomainEndpoint" in json.dumps(variables["OPENSEARCH_URL"]), name
        assert "AWS_REGION" not in variables  # Lambda sets it
        literal_arns = [v for v in variables.values() if isinstance(v, str) and v.startswith("arn:")]
        assert literal_arns == [], name


def test_function_log_groups_keep_logs_for_the_stage_retention(synth: Synth) -> None:
    groups = [
        g["Properties"]
        for g in synth.resources("AWS::Logs::LogGroup").values()
        if "/aws/lambda/" in json.dumps(g["Properties"].get("LogGroupName", ""))
    ]
    assert len(groups) == len(_functions(synth))
    assert {g["RetentionInDays"] for g in groups} == {14}


def _statements(synth: Synth, stage: str = "dev") -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, policy in synth.resources("AWS::IAM::Policy", stage).items():
        found += [(name, s) for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    for name, role in synth.resources("AWS::IAM::Role", stage).items():
        for inline in role["Properties"].get("Policies", []):
            found += [(name, s) for s in inline["PolicyDocument"]["Statement"]]
    for name, policy in synth.resources("AWS::IAM::ManagedPolicy", stage).items():
        found += [(name, s) for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# Actions that IAM does not scope to a resource: "*" is the only resource they take.
UNSCOPED_ACTIONS = {"dynamodb:ListStreams", "ecr:GetAuthorizationToken", "s3:PutBucketNotification"}


def test_no_iam_statement_allows_every_action_or_every_resource_where_a_narrower_one_exists(synth: Synth) -> None:
    for stage in ("dev", "prod"):
        for name, statement in _statements(synth, stage):
            actions = _as_list(statement.get("Action", []))
            assert not [a for a in actions if a == "*" or a.endswith(":*")], (name, actions)
            if "*" in _as_list(statement.get("Resource", [])):
                assert set(actions) <= UNSCOPED_ACTIONS, (name, actions)


def test_app_role_policy_names_its_own_resources(synth: Synth) -> None:
    stack = synth.stacks["dev"]
    policy = synth.resources("AWS::IAM::Policy")[_logical_id(synth, stack.app_access)]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    tables = [r for r in statements["Tables"]["Resource"] if "Fn::GetAtt" in r]
    assert len(tables) == len(stack.tables.by_name)
    assert len(statements["Queues"]["Resource"]) == 3
    assert statements["Secrets"]["Resource"] == [
        {"Ref": _logical_id(synth, stack.twilio_secret)},
        {"Ref": _logical_id(synth, stack.licence_secret)},
    ]
    for function in _functions(synth).values():
        assert function["DependsOn"] == [_logical_id(synth, stack.app_access)]
        assert re.fullmatch(r"AppRole[0-9A-F]{8}", function["Properties"]["Role"]["Fn::GetAtt"][0])


def test_api_is_a_regional_rest_api_on_the_api_stage(synth: Synth) -> None:
    (api,) = synth.resources("AWS::Serverless::Api").values()
    assert api["Properties"]["StageName"] == "api"
    assert api["Properties"]["EndpointConfiguration"] == "REGIONAL"
    assert "/api/v1/accounts" in api["Properties"]["DefinitionBody"]["paths"]
