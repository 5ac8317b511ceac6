"""The API on its own name (`domain_name`): the custom domain, its certificate, its mapping to the stage, the DNS
records, the PUBLIC_BASE_URL every function builds links with; and a production stage that refuses to
synthesize without what real phones need."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_elasticloadbalancingv2 as elbv2

from infra.config import ConfigError, DomainConfig, stage_config
from infra.domain import ApiDomain
from tests.infra.conftest import INFRA_DIR, PROD_DOMAIN, PROD_ZONE_ID, Synth, cdk_context


def _only(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    (item,) = resources.items()
    return item


def test_prod_serves_the_api_on_its_domain_with_a_dns_validated_certificate(synth: Synth) -> None:
    certificate_id, certificate = _only(synth.resources("AWS::CertificateManager::Certificate", "prod"))
    assert certificate["Properties"]["DomainName"] == PROD_DOMAIN
    assert certificate["Properties"]["ValidationMethod"] == "DNS"
    assert certificate["Properties"]["DomainValidationOptions"] == [
        {"DomainName": PROD_DOMAIN, "HostedZoneId": PROD_ZONE_ID}
    ]
    # the SAM transform makes the AWS::ApiGateway::DomainName, its base path mapping and the alias record
    _, api = _only(synth.resources("AWS::Serverless::Api", "prod"))
    assert api["Properties"]["Domain"] == {
        "DomainName": PROD_DOMAIN,
        "CertificateArn": {"Ref": certificate_id},
        "EndpointConfiguration": "REGIONAL",
        "SecurityPolicy": "TLS_1_2",
        "BasePath": ["/"],  # the whole stage at the root: /api/v1/…, /m/…, /console/…
        "Route53": {"HostedZoneId": PROD_ZONE_ID},
    }
    assert "Domain" not in next(iter(synth.resources("AWS::Serverless::Api", "dev").values()))["Properties"]


def test_prod_names_the_sip_edge_in_the_hosted_zone(synth: Synth) -> None:
    (record,) = [r["Properties"] for r in synth.resources("AWS::Route53::RecordSet", "prod").values()]
    assert (record["Name"], record["Type"], record["HostedZoneId"]) == (f"sip.{PROD_DOMAIN}.", "A", PROD_ZONE_ID)
    stack = synth.stacks["prod"]
    nlb = stack.get_logical_id(stack.edge.load_balancer.node.default_child)  # type: ignore[arg-type]
    assert nlb in json.dumps(record["AliasTarget"])


def test_every_function_builds_links_with_the_domain_in_prod_and_dev_needs_no_domain(synth: Synth) -> None:
    for function in synth.resources("AWS::Serverless::Function", "prod").values():
        assert function["Properties"]["Environment"]["Variables"]["PUBLIC_BASE_URL"] == f"https://{PROD_DOMAIN}"
    for function in synth.resources("AWS::Serverless::Function", "dev").values():
        assert "PUBLIC_BASE_URL" not in function["Properties"]["Environment"]["Variables"]  # -c public_base_url


def test_an_existing_certificate_is_used_as_given_and_the_dns_is_left_to_the_operator() -> None:
    stack = cdk.Stack(cdk.App(), "Domain", env=cdk.Environment(region="eu-west-1"))
    arn = "arn:aws:acm:eu-west-1:111111111111:certificate/0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6"
    config = DomainConfig(name="voice.example.org", hosted_zone_id="", hosted_zone_name="voice.example.org",
                          certificate_arn=arn, sip_name="sip.voice.example.org")  # fmt: skip
    api = cdk.CfnResource(stack, "Api", type="AWS::Serverless::Api", properties={"StageName": "api"})
    ApiDomain(stack, "ApiDomain", config=config, api=api).point_sip_name(
        elbv2.NetworkLoadBalancer.from_network_load_balancer_attributes(
            stack, "Nlb", load_balancer_arn="arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/net/x/1",
            load_balancer_dns_name="x-1.elb.eu-west-1.amazonaws.com",
        )
    )  # fmt: skip
    template = cdk.assertions.Template.from_stack(stack).to_json()
    types = {r["Type"] for r in template["Resources"].values()}
    assert types == {"AWS::Serverless::Api"}  # no certificate, no record
    domain = template["Resources"]["Api"]["Properties"]["Domain"]
    assert domain["CertificateArn"] == arn and "Route53" not in domain
    assert "x-1.elb.eu-west-1.amazonaws.com" in json.dumps(template["Outputs"])  # what sip.… must point at


def _prod_context(**settings: str) -> dict[str, Any]:
    return cdk_context(prod_settings=settings)["stages"]["prod"]


def test_a_production_stage_without_domain_sip_certificate_or_alarm_subscription_is_refused() -> None:
    with pytest.raises(ConfigError) as refused:
        stage_config("prod", _prod_context())
    message = str(refused.value)
    for needed in ("domain_name", "hosted_zone_id or certificate_arn", "sip_certificate_secret_arn",
                   "sip_edge_base_digest", "alarm_email"):  # fmt: skip
        assert needed in message
    with pytest.raises(ConfigError, match="is not an image digest"):
        stage_config("dev", {**cdk_context()["stages"]["dev"], "sip_edge_base_digest": "bookworm-slim"})
    with pytest.raises(ConfigError, match="needs hosted_zone_id"):
        stage_config("prod", _prod_context(domain_name="voice.example.com"))
    with pytest.raises(ConfigError, match="contradicts domain_name"):
        stage_config("dev", {**cdk_context()["stages"]["dev"], "domain_name": "a.example.com",
                             "certificate_arn": "arn:x", "public_base_url": "https://b.example.com"})  # fmt: skip
    dev = stage_config("dev", cdk_context()["stages"]["dev"])  # dev: the generated URL, a second deploy (README)
    assert dev.domain is None and dev.public_base_url == ""


def test_cdk_synth_of_an_unconfigured_prod_stage_stops_with_the_message(tmp_path: Path) -> None:
    """The entry point `cdk synth -c stage=prod` runs, given the context as the CDK CLI gives it."""
    context = cdk_context(prod_settings={}) | {"stage": "prod"}
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "cdk_app.py"], cwd=INFRA_DIR, env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1
    assert "infra: stage 'prod' is a production stage and needs" in done.stderr
    assert "Traceback" not in done.stderr
