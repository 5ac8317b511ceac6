"""The API's edge and the storage lifecycle: stage throttling, JSON access logs, the WAF web ACL on the stage,
the API function's reserved concurrency, alarms on 4XX/5XX rates and latency, expiry of uploads/ and work/."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs

from infra import application as handlers
from infra.api_edge import RATE_RULES, THROTTLE_BURST, THROTTLE_RATE
from infra.monitoring import Alarms
from tests.infra.conftest import Synth


def _api(synth: Synth, stage: str) -> dict[str, Any]:
    (api,) = synth.resources("AWS::Serverless::Api", stage).values()
    properties: dict[str, Any] = api["Properties"]
    return properties


def test_the_stage_is_throttled_and_writes_json_access_logs_to_a_group_with_the_stage_retention(synth: Synth) -> None:
    for stage, retention in (("dev", 14), ("prod", 90)):
        api = _api(synth, stage)
        (settings,) = api["MethodSettings"]
        assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
        assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (THROTTLE_RATE, THROTTLE_BURST)
        log_setting = api["AccessLogSetting"]
        group_id = log_setting["DestinationArn"]["Fn::GetAtt"][0]
        group = synth.resources("AWS::Logs::LogGroup", stage)[group_id]["Properties"]
        assert group["RetentionInDays"] == retention
        fields = json.loads(log_setting["Format"])
        assert {"requestId", "ip", "status", "latencyMs"} <= set(fields)
        (account,) = synth.resources("AWS::ApiGateway::Account", stage).values()  # the role access logs need
        assert "CloudWatchRoleArn" in account["Properties"]


def test_a_waf_web_acl_with_managed_rules_and_rate_limits_guards_the_stage(synth: Synth) -> None:
    ((acl_id, acl),) = synth.resources("AWS::WAFv2::WebACL").items()
    properties = acl["Properties"]
    assert properties["Scope"] == "REGIONAL" and properties["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in properties["Rules"]}
    assert rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]["VendorName"] == "AWS"
    for rate in RATE_RULES:
        statement = rules[f"rate-{rate.name}"]["Statement"]["RateBasedStatement"]
        assert rules[f"rate-{rate.name}"]["Action"] == {"Block": {}}
        assert statement["Limit"] == rate.limit and statement["AggregateKeyType"] == "IP"
        prefixes = [
            s["ByteMatchStatement"]["SearchString"]
            for s in statement["ScopeDownStatement"]["OrStatement"]["Statements"]
        ]
        assert prefixes == list(rate.prefixes)
    assert {r.prefixes[0] for r in RATE_RULES} == {"/api/v1/auth/login", "/m/"}
    (association,) = synth.resources("AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    text, variables = association["Properties"]["ResourceArn"]["Fn::Sub"]
    assert text.endswith("::/restapis/${Api}/stages/${RestAPI.Stage}")  # the SAM transform's stage
    assert variables == {"Api": {"Ref": "RestAPI"}}


def test_the_api_function_has_its_own_capped_share_of_concurrency(synth: Synth) -> None:
    for stage, reserved in (("dev", 50), ("prod", 400)):
        function = synth.resources("AWS::Serverless::Function", stage)[handlers.API.logical_id]
        assert function["Properties"]["ReservedConcurrentExecutions"] == reserved


def test_alarms_watch_the_apis_error_rates_and_latency(synth: Synth) -> None:
    alarms = {
        a["Properties"].get("MetricName"): a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "AWS/ApiGateway"
        and (a["Properties"].get("Statistic") == "Average" or a["Properties"].get("ExtendedStatistic"))
    }
    assert alarms["4XXError"]["Statistic"] == "Average" and alarms["4XXError"]["Threshold"] == 0.25
    assert alarms["5XXError"]["Statistic"] == "Average" and alarms["5XXError"]["Threshold"] == 0.01
    assert alarms["Latency"]["ExtendedStatistic"] == "p99"
    for alarm in alarms.values():
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"ApiName": "pgsm-dev-api", "Stage": "api"}


def test_uploads_and_work_files_expire(synth: Synth) -> None:
    stack = synth.stacks["dev"]
    bucket = synth.resources("AWS::S3::Bucket")[stack.get_logical_id(stack.storage.bucket.node.default_child)]  # type: ignore[arg-type]
    rules = {rule["Id"]: rule for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert (rules["expire-uploads"]["Prefix"], rules["expire-uploads"]["ExpirationInDays"]) == ("uploads/", 30)
    assert (rules["expire-work"]["Prefix"], rules["expire-work"]["ExpirationInDays"]) == ("work/", 7)


def test_a_given_alarm_topic_is_notified_by_every_alarm_too() -> None:
    stack = cdk.Stack(cdk.App(), "Alarms", env=cdk.Environment(region="eu-west-1"))
    pager = "arn:aws:sns:eu-west-1:111111111111:pager"
    alarms = Alarms(stack, "Alarms", stage="prod", email="", topic_arn=pager)
    alarms.dead_letters({"Sms": sqs.Queue(stack, "Dlq")})
    template = cdk.assertions.Template.from_stack(stack).to_json()
    (alarm,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert pager in alarm["Properties"]["AlarmActions"] and len(alarm["Properties"]["AlarmActions"]) == 2
    assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::SNS::Subscription"]


def test_api_gateways_own_answers_are_the_apps_problem_documents(synth: Synth) -> None:
    from chalicelib.api.gateway_answers import gateway_responses

    for stage in ("dev", "prod"):
        definition = _api(synth, stage)["DefinitionBody"]
        assert definition["x-amazon-apigateway-gateway-responses"] == gateway_responses()
        assert definition["paths"]  # Chalice's own definition is kept beside them
