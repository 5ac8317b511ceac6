"""The API on its own name: an API Gateway custom domain (regional, TLS 1.2) for `https://<domain_name>`, mapped
to the Chalice API's stage, with an ACM certificate (made here and validated through the hosted zone, or an
existing one), and the DNS records: `<domain_name>` to the API, `sip.<domain_name>` to the SIP edge's NLB
(when the zone is given; otherwise the operator points them: infra/README.md, First deploy).

The custom domain is the `Domain` property of Chalice's `AWS::Serverless::Api`: the SAM transform then makes the
`AWS::ApiGateway::DomainName`, the base path mapping (after the stage it also makes, which a resource of this
stack could not name before the transform) and the alias record."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from constructs import Construct

from infra.config import DomainConfig


class ApiDomain(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: DomainConfig, api: cdk.CfnResource) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.zone = (
            route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=config.hosted_zone_id, zone_name=config.hosted_zone_name
            )
            if config.hosted_zone_id
            else None
        )
        if config.certificate_arn:
            self.certificate: acm.ICertificate = acm.Certificate.from_certificate_arn(
                self, "Certificate", config.certificate_arn
            )
        else:
            assert self.zone is not None  # config.domain_config requires one or the other
            self.certificate = acm.Certificate(
                self,
                "Certificate",
                domain_name=config.name,
                validation=acm.CertificateValidation.from_dns(self.zone),
            )
        # SAM's own custom domain of the API (it makes the domain, the base path mapping after the stage it
        # makes, and the alias record): the whole stage at the root, https://<domain_name>/api/v1/…, /m/…
        domain: dict[str, object] = {
            "DomainName": config.name,
            "CertificateArn": self.certificate.certificate_arn,
            "EndpointConfiguration": "REGIONAL",
            "SecurityPolicy": "TLS_1_2",
            "BasePath": ["/"],
        }
        if self.zone is not None:
            domain["Route53"] = {"HostedZoneId": config.hosted_zone_id}
        api.add_property_override("Domain", domain)
        cdk.CfnOutput(self, "ApiUrl", value=config.base_url, description="PUBLIC_BASE_URL: where phones and Twilio go")

    def point_sip_name(self, load_balancer: elbv2.INetworkLoadBalancer) -> None:
        """`sip.<domain_name>` → the NLB (an alias A record) when the zone is the stack's to write in."""
        if self.zone is not None:
            route53.ARecord(
                self,
                "SipRecord",
                zone=self.zone,
                record_name=f"{self.config.sip_name}.",
                target=route53.RecordTarget.from_alias(targets.LoadBalancerTarget(load_balancer)),
            )
        cdk.CfnOutput(
            self,
            "SipDnsTarget",
            value=load_balancer.load_balancer_dns_name,
            description=f"{self.config.sip_name} must be an alias (or CNAME) of this",
        )
