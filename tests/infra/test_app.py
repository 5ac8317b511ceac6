"""The Chalice app in the template: its functions, their event sources, configuration and permissions."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from chalicelib import settings as app_settings
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


def test_sms_queue_and_its_dead_letter_queue_are_fifo_deduplicated_by_the_sender(synth: Synth) -> None:
    stack = synth.stacks["dev"]
    queues = synth.resources("AWS::SQS::Queue")
    sms = queues[_logical_id(synth, stack.sms.queue)]["Properties"]
    dead_letters = queues[_logical_id(synth, stack.sms.dead_letters)]["Properties"]
    assert (sms["QueueName"], dead_letters["QueueName"]) == ("pgsm-dev-sms.fifo", "pgsm-dev-sms-dlq.fifo")
    for queue in (sms, dead_letters):
        assert queue["FifoQueue"] is True
        assert queue["ContentBasedDeduplication"] is False
    for work in (stack.sip_events, stack.imports):
        for queue in (work.queue, work.dead_letters):
            assert "FifoQueue" not in queues[_logical_id(synth, queue)]["Properties"]


def test_sms_consumer_is_wired_to_the_fifo_queue_by_its_fifo_name(synth: Synth) -> None:
    """The SMS handler's event source is this stack's FIFO queue (whatever name app.py had when Chalice packaged
    it: in a test session app.py may have been imported earlier with local names), the function gets the FIFO
    name, and the event source has no batching window (Lambda refuses one on FIFO queues)."""
    stack = synth.stacks["dev"]
    function = _functions(synth)[handlers.SEND_SMS.logical_id]["Properties"]
    (wired,) = function["Events"].values()
    assert wired["Properties"]["Queue"] == {"Fn::GetAtt": [_logical_id(synth, stack.sms.queue), "Arn"]}
    assert function["Environment"]["Variables"]["SMS_QUEUE_NAME"] == "pgsm-dev-sms.fifo"
    (event,) = function["Events"].values()
    assert "MaximumBatchingWindowInSeconds" not in event["Properties"]
    assert event["Properties"]["BatchSize"] == 1


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
        assert variables["IMPORT_QUEUE_URL"] == {"Ref": _logical_id(synth, stack.imports.queue)}, name
        assert variables["SIP_EVENTS_QUEUE_NAME"] == "pgsm-dev-sip-events", name
        assert variables["IMPORT_QUEUE_NAME"] == "pgsm-dev-import-chunks", name
        assert variables["OPENSEARCH_SIGV4"] == "true", name
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


def _policy_of(synth: Synth, handler: handlers.Handler, stage: str = "dev") -> dict[str, dict[str, Any]]:
    """The function's main policy, by statement id."""
    stack = synth.stacks[stage]
    policy = synth.resources("AWS::IAM::Policy", stage)[_logical_id(synth, stack.access[handler], stage)]
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def _role_statements(synth: Synth, handler: handlers.Handler) -> list[dict[str, Any]]:
    role = {"Ref": _logical_id(synth, synth.stacks["dev"].roles[handler])}
    return [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if role in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_each_function_runs_as_its_own_role_created_after_its_policy(synth: Synth) -> None:
    stack = synth.stacks["dev"]
    functions = _functions(synth)
    roles = set()
    for handler in handlers.ALL_HANDLERS:
        properties = functions[handler.logical_id]
        role = properties["Properties"]["Role"]
        assert role == {"Fn::GetAtt": [_logical_id(synth, stack.roles[handler]), "Arn"]}, handler.name
        assert properties["DependsOn"] == [_logical_id(synth, stack.access[handler])]
        roles.add(json.dumps(role))
    assert len(roles) == len(handlers.ALL_HANDLERS)


def test_only_the_sms_sender_reads_the_twilio_secret_and_only_it_is_told_its_arn(synth: Synth) -> None:
    stack = synth.stacks["dev"]
    twilio = {"Ref": _logical_id(synth, stack.twilio_secret)}
    licence = {"Ref": _logical_id(synth, stack.licence_secret)}
    callback = {"Ref": _logical_id(synth, stack.callback_secret)}

    def readers(secret: dict[str, str]) -> set[handlers.Handler]:
        return {
            h
            for h in handlers.ALL_HANDLERS
            for s in _role_statements(synth, h)
            if "secretsmanager" in json.dumps(s["Action"]) and secret in _as_list(s["Resource"])
        }

    assert readers(twilio) == {handlers.SEND_SMS}  # the internet-facing API never holds Twilio's credentials
    assert readers(callback) == {handlers.SEND_SMS, handlers.API}  # makes / checks the callbacks' keys
    assert _policy_of(synth, handlers.API)["Secrets"]["Resource"] == [callback, licence]
    assert _as_list(_policy_of(synth, handlers.SEND_SMS)["Secrets"]["Resource"]) == [twilio, callback]
    for handler in handlers.ALL_HANDLERS:
        variables = _functions(synth)[handler.logical_id]["Properties"]["Environment"]["Variables"]
        assert ("TWILIO_SECRET_ARN" in variables) == (handler is handlers.SEND_SMS), handler.name
        assert ("SMS_CALLBACK_SECRET_ARN" in variables) == (handler in readers(callback)), handler.name
        assert ("LICENCE_UPSTREAM_SECRET_ARN" in variables) == (handler is handlers.API), handler.name


def test_only_the_indexer_writes_to_search_and_reads_the_stream(synth: Synth) -> None:
    from infra.search import SEARCH_HTTP_ACTIONS, SEARCH_READ_ACTIONS

    for handler in handlers.ALL_HANDLERS:
        statements = _policy_of(synth, handler)
        search = statements.get("Search")
        if handler is handlers.INDEX_ACCOUNTS:
            assert search is not None and search["Action"] == list(SEARCH_HTTP_ACTIONS)
            assert set(statements) == {"AccountsStream", "ListStreams", "Send", "Search"}  # no tables, no files
        elif handler is handlers.API:
            assert search is not None and search["Action"] == list(SEARCH_READ_ACTIONS)
        else:
            assert search is None, handler.name
        assert ("AccountsStream" in statements) == (handler is handlers.INDEX_ACCOUNTS), handler.name


def test_queue_consumers_consume_only_their_queue(synth: Synth) -> None:
    stack = synth.stacks["dev"]
    for handler, queue in (
        (handlers.SEND_SMS, stack.sms.queue),
        (handlers.RECORD_SIP_EVENTS, stack.sip_events.queue),
        (handlers.RUN_IMPORT_CHUNK, stack.imports.queue),
    ):
        consume = _policy_of(synth, handler)["Consume"]
        assert _as_list(consume["Resource"]) == [{"Fn::GetAtt": [_logical_id(synth, queue), "Arn"]}]
        assert "sqs:SendMessage" not in consume["Action"]
    for handler in (handlers.API, handlers.INDEX_ACCOUNTS, handlers.IMPORT_OBJECT_CREATED):
        assert "Consume" not in _policy_of(synth, handler)
    tables = [r for r in _policy_of(synth, handlers.API)["Tables"]["Resource"] if "Fn::GetAtt" in r]
    assert len(tables) == len(stack.tables.by_name)


def test_api_is_a_regional_rest_api_on_the_api_stage(synth: Synth) -> None:
    (api,) = synth.resources("AWS::Serverless::Api").values()
    assert api["Properties"]["StageName"] == "api"
    assert api["Properties"]["EndpointConfiguration"] == "REGIONAL"
    assert "/api/v1/accounts" in api["Properties"]["DefinitionBody"]["paths"]


# What the deployment does with each variable the app reads (chalicelib/settings.py's ENV_* names and the ones
# app.py reads itself). A new variable in the app fails the first test until it is placed in one of these.
SET_IN_AWS = {
    "STORAGE_BACKEND",
    "TABLE_PREFIX",
    "SEARCH_BACKEND",
    "OPENSEARCH_URL",
    "OPENSEARCH_INDEX",
    "OPENSEARCH_SIGV4",
    "SMS_PROVIDER",
    "SMS_QUEUE_URL",
    "SMS_RATE_PER_SECOND",
    "EMAIL_PROVIDER",
    "IMPORTS_BUCKET",
    "IMPORT_QUEUE_URL",
    # app.py's event sources
    "ACCOUNTS_STREAM_ARN",
    "SMS_QUEUE_NAME",
    "SIP_EVENTS_QUEUE_NAME",
    "IMPORT_QUEUE_NAME",
}
SET_FOR_THE_FUNCTIONS_THAT_READ_THEM = {  # infra/access.py (test_only_the_sms_sender_reads_the_twilio_secret…)
    "TWILIO_SECRET_ARN",
    "LICENCE_UPSTREAM_SECRET_ARN",
    "SMS_CALLBACK_SECRET_ARN",
}
SET_WHEN_CONFIGURED = {  # by context (infra/README.md): without it the app's default applies
    "PUBLIC_BASE_URL",  # https://<domain_name>, or -c public_base_url=… in a stage without domain
    "LICENCE_UPSTREAM_URL",
    "LICENCE_UPSTREAM_PUBLIC_KEY",
    "EMAIL_FROM",  # -c email_from=… or -c ses_domain=… (tests/infra/test_email.py)
}
LAMBDAS_OWN = {"AWS_REGION"}
DEFAULTS_SUFFICE = {
    "DYNAMODB_TIMEOUT_SECONDS",
    "DYNAMODB_MAX_RETRIES",
    "SESSION_TTL_SECONDS",
    "LOGIN_MAX_FAILURES_PER_USER",
    "LOGIN_MAX_FAILURES_PER_SOURCE",
    "LOGIN_MAX_FAILURES_PER_USER_PER_MINUTE",
    "LOGIN_WINDOW_SECONDS",
    "MAX_BODY_BYTES",
    "REQUIRE_IF_MATCH",
    "REFERENCE_CACHE_SECONDS",
    "LINK_TTL_HOURS",
    "MOBILE_MAX_ATTEMPTS_PER_SOURCE",
    "LICENCE_CACHE_SECONDS",
    "LICENCE_AUTH_CACHE_SECONDS",
    "LICENCE_GRACE_SECONDS",
    "LICENCE_UPSTREAM_TIMEOUT_SECONDS",
    "IMPORT_CHUNK_ROWS",
    "IMPORT_MAX_UPLOAD_BYTES",
}
NEVER_IN_AWS = {
    # the local stack's and the tests' endpoints: in AWS the SDKs find the real ones
    "DYNAMODB_ENDPOINT_URL",
    "SQS_ENDPOINT_URL",
    "S3_ENDPOINT_URL",
    "SECRETS_ENDPOINT_URL",
    "TWILIO_API_BASE",
    "SEARCH_INDEX_PATH",  # the embedded engine's directory; AWS uses OpenSearch
    # credentials in plain text: in AWS they come from the secrets
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM",
    "TWILIO_MESSAGING_SERVICE_SID",
    "LICENCE_UPSTREAM_TOKEN",
    "SMS_CALLBACK_KEY",
}
APP_PY = Path(__file__).resolve().parents[2] / "app.py"


def _variables_the_app_reads() -> set[str]:
    names = {value for name, value in vars(app_settings).items() if name.startswith("ENV_")}
    return names | set(re.findall(r"os\.environ\.get\(\s*\"([A-Z0-9_]+)\"", APP_PY.read_text()))


def test_the_deployment_has_decided_about_every_variable_the_app_reads() -> None:
    decided = SET_IN_AWS | SET_FOR_THE_FUNCTIONS_THAT_READ_THEM | SET_WHEN_CONFIGURED | LAMBDAS_OWN
    decided |= DEFAULTS_SUFFICE | NEVER_IN_AWS
    assert _variables_the_app_reads() - decided == set()


def test_every_function_has_every_variable_the_app_needs_in_aws_and_nothing_it_does_not_read(synth: Synth) -> None:
    reads = _variables_the_app_reads()
    assert SET_IN_AWS - reads == set(), "the deployment sets variables the app does not read"
    for stage in ("dev", "prod"):
        for name, function in _functions(synth, stage).items():
            variables = set(function["Properties"]["Environment"]["Variables"])
            assert SET_IN_AWS - variables == set(), (stage, name)
            assert variables & (NEVER_IN_AWS | LAMBDAS_OWN) == set(), (stage, name)
            assert variables - reads == set(), (stage, name)


def test_synthesizing_leaves_this_process_environment_as_it_was(synth: Synth) -> None:
    """`chalice package` sets the stage's variables to import app.py; the construct puts them back, or tests that
    run later in the same process (the local stack) would start with the AWS settings."""
    assert synth.templates  # synthesized in this session by the fixture
    for name in ("SEARCH_BACKEND", "SMS_PROVIDER", "OPENSEARCH_SIGV4", "SMS_QUEUE_NAME", "TABLE_PREFIX"):
        assert name not in os.environ, name


def test_the_stream_event_source_isolates_bad_records_retries_a_bounded_time_and_keeps_what_it_gives_up(
    synth: Synth,
) -> None:
    stack = synth.stacks["dev"]
    (event,) = _functions(synth)[handlers.INDEX_ACCOUNTS.logical_id]["Properties"]["Events"].values()
    properties = event["Properties"]
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BisectBatchOnFunctionError"] is True
    assert properties["MaximumRetryAttempts"] == handlers.STREAM_MAX_RETRIES
    assert 0 < properties["MaximumRecordAgeInSeconds"] < 24 * 3600  # before the stream's own 24 h retention
    failures = _logical_id(synth, stack.index_failures)
    assert properties["DestinationConfig"] == {
        "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": [failures, "Arn"]}}
    }


def test_every_queue_consumer_reports_partial_batch_failures(synth: Synth) -> None:
    for handler in (handlers.SEND_SMS, handlers.RECORD_SIP_EVENTS, handlers.RUN_IMPORT_CHUNK):
        (event,) = _functions(synth)[handler.logical_id]["Properties"]["Events"].values()
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"], handler.name


def test_failed_s3_notifications_go_to_their_failure_queue_and_functions_may_send_there(synth: Synth) -> None:
    stack = synth.stacks["dev"]
    (config,) = synth.resources("AWS::Lambda::EventInvokeConfig").values()
    properties = config["Properties"]
    assert properties["FunctionName"] == {"Ref": handlers.IMPORT_OBJECT_CREATED.logical_id}
    assert properties["Qualifier"] == "$LATEST"
    assert properties["MaximumRetryAttempts"] == handlers.ASYNC_MAX_RETRIES
    destination = properties["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": [_logical_id(synth, stack.upload_failures), "Arn"]}
    queues = synth.resources("AWS::SQS::Queue")
    for queue in (stack.index_failures, stack.upload_failures):
        assert queues[_logical_id(synth, queue)]["Properties"]["SqsManagedSseEnabled"] is True
