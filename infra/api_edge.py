"""The API's edge: API Gateway's own answers as problem documents (chalicelib/api/gateway_answers.py), stage
throttling, JSON access logs, and a WAF web ACL in front of the stage (AWS's common rule set and known bad
inputs, plus per-address rate limits on the login and on the phones' `/m/` links).

Access logs need API Gateway's account-wide CloudWatch role (`AWS::ApiGateway::Account`); the stack sets it
unless the stage's `api_gateway_cloudwatch_role` is false (another stack of the account already does). The role
is kept on stack deletion: the account setting would otherwise name a role that no longer exists."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from chalicelib.api.gateway_answers import gateway_responses

# Stage-wide throttling (requests per second, and burst); API Gateway answers 429 above it.
THROTTLE_RATE = 200
THROTTLE_BURST = 400
RATE_WINDOW_SECONDS = 300


@dataclass(frozen=True)
class RateRule:
    """At most `limit` requests per address in RATE_WINDOW_SECONDS to paths starting with one of `prefixes`
    (the custom domain's paths, and the same under the stage URL's `/api`)."""

    name: str
    prefixes: tuple[str, ...]
    limit: int


RATE_RULES = (
    RateRule("login", ("/api/v1/auth/login", "/api/api/v1/auth/login"), 100),
    RateRule("mobile-links", ("/m/", "/api/m/"), 300),
)
MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")
# JSON access log line: $context variables of API Gateway (no bodies, no query strings: links carry tokens)
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "time": "$context.requestTimeEpoch",
    "method": "$context.httpMethod",
    "resource": "$context.resourcePath",
    "status": "$context.status",
    "latencyMs": "$context.responseLatency",
    "bytes": "$context.responseLength",
    "userAgent": "$context.identity.userAgent",
    "waf": "$context.waf.status",
}


def _path_starts_with(prefix: str) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            positional_constraint="STARTS_WITH",
            search_string=prefix,
            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="URL_DECODE")],
        )
    )


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )


class ApiEdge(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: cdk.CfnResource,
        api_name: str,
        stage_name: str,
        log_retention: logs.RetentionDays,
        account_role: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention)
        # API Gateway's own answers (unknown paths, throttling, WAF, timeouts) as the app's problem documents; in
        # the definition, so that the stage's deployment changes with them
        api.add_property_override("DefinitionBody.x-amazon-apigateway-gateway-responses", gateway_responses())
        api.add_property_override("TracingEnabled", True)  # X-Ray traces of the stage's requests
        api.add_property_override(
            "AccessLogSetting",
            {"DestinationArn": self.access_logs.log_group_arn, "Format": stack.to_json_string(ACCESS_LOG_FORMAT)},
        )
        api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": THROTTLE_RATE,
                    "ThrottlingBurstLimit": THROTTLE_BURST,
                    "MetricsEnabled": True,
                }
            ],
        )
        if account_role:
            role = iam.Role(
                self,
                "CloudWatchRole",
                assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
                managed_policies=[
                    iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")
                ],
            )
            role.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
            self.account = apigateway.CfnAccount(self, "Account", cloud_watch_role_arn=role.role_arn)
            self.account_role: iam.Role | None = role
            api.add_dependency(self.account)
        else:
            self.account_role = None
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"{api_name}-waf"),
            rules=self._rules(api_name),
        )
        # The stage comes from the SAM transform: `${RestAPI.Stage}` is SAM's reference to it, resolved by the
        # transform to the stage resource (its name, and an order: the association waits for the stage).
        stage_arn = cdk.Fn.sub(
            "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${" + api.logical_id + ".Stage}",
            {"Api": api.ref},
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "WebAclAssociation", resource_arn=stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
        self.stage_name = stage_name

    def _rules(self, api_name: str) -> list[wafv2.CfnWebACL.RuleProperty]:
        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name=group,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=group
                    )
                ),
                visibility_config=_visibility(f"{api_name}-{group}"),
            )
            for priority, group in enumerate(MANAGED_RULE_GROUPS)
        ]
        for offset, rule in enumerate(RATE_RULES, start=len(rules)):
            scope_down = wafv2.CfnWebACL.StatementProperty(
                or_statement=wafv2.CfnWebACL.OrStatementProperty(
                    statements=[_path_starts_with(prefix) for prefix in rule.prefixes]
                )
            )
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=f"rate-{rule.name}",
                    priority=offset,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=rule.limit,
                            aggregate_key_type="IP",
                            evaluation_window_sec=RATE_WINDOW_SECONDS,
                            scope_down_statement=scope_down,
                        )
                    ),
                    visibility_config=_visibility(f"{api_name}-rate-{rule.name}"),
                )
            )
        return rules
