"""cdk-nag (AwsSolutions pack) findings this design accepts, each acknowledged on the one resource it concerns
with the reason next to it. Anything not listed here fails `cdk synth` and the infra tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from constructs import IConstruct

from infra.access import access_of

if TYPE_CHECKING:
    from infra.stack import PgsmStack

PACK = "AwsSolutions"


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """`rule` as cdk-nag names it (`AwsSolutions-OS1`, or `AwsSolutions-IAM5[Resource::*]` for one finding)."""
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=f"{PACK}::{PACK}-{rule}", reason=reason))


def acknowledge_accepted_findings(stack: PgsmStack) -> None:
    _search(stack)
    _api_edge(stack)
    _failure_queues(stack)
    _secrets(stack)
    _edge(stack)
    _app_policy(stack)
    _bucket_notifications(stack)


def _search(stack: PgsmStack) -> None:
    domain = stack.search.domain
    acknowledge(
        domain,
        "OS1",
        "Not in a VPC: the functions would then need a VPC and NAT. Access is by IAM only (the domain policy "
        "admits the indexer's, the API's and the admin role, requests are SigV4-signed) plus fine-grained "
        "access control.",
    )
    acknowledge(
        domain,
        "OS3",
        "No IP allow-list: Lambda has no fixed addresses. The domain policy admits only the search roles.",
    )
    if not stack.config.search.master_nodes:
        acknowledge(domain, "OS4", "This stage runs without dedicated master nodes to keep its cost down.")
    if stack.config.search.data_nodes < 2:
        acknowledge(domain, "OS7", "One data node in this stage: zone awareness needs at least two.")


def _api_edge(stack: PgsmStack) -> None:
    role = stack.api_edge.account_role
    if role is not None:
        acknowledge(
            role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-wide logging role, with the managed policy AWS provides for exactly that "
            "(API Gateway creates the execution log groups it writes to, so their names are not known here).",
        )


def _failure_queues(stack: PgsmStack) -> None:
    for queue in (stack.index_failures, stack.upload_failures):
        acknowledge(
            queue,
            "SQS3",
            "This queue is itself where Lambda puts what it gave up on (an event source's on-failure destination, "
            "a dead-letter queue in effect); nothing consumes it, an alarm watches it, the runbook replays it.",
        )


def _secrets(stack: PgsmStack) -> None:
    for secret in (stack.twilio_secret, stack.licence_secret):
        acknowledge(
            secret,
            "SMG4",
            "Third-party credentials (Twilio, the licence vendor): they are issued and rotated at the vendor, "
            "so there is nothing a rotation Lambda could rotate.",
        )
    acknowledge(
        stack.callback_secret,
        "SMG4",
        "The SMS status callbacks' key is read when a function starts; rotating it invalidates the callback URLs "
        "of messages still in flight at the provider, so it is rotated by hand (infra/README.md) with a "
        "deployment, not on a schedule.",
    )


def _edge(stack: PgsmStack) -> None:
    edge = stack.edge
    acknowledge(
        edge.auth_secret,
        "SMG4",
        "The SIP edge's nonce secret is read once at task start; rotating it means a new deployment of the "
        "service (a rotation Lambda cannot restart the tasks). It only invalidates outstanding challenges.",
    )
    acknowledge(
        edge.task,
        "ECS2",
        "The environment holds names and URLs only (table prefix, region, queue URL, transports); the one "
        "secret (SIP_AUTH_SECRET) comes from Secrets Manager.",
    )
    acknowledge(
        edge.security_group,
        "EC23",
        "SIP phones register from anywhere on the internet; only the SIP ports (5060 UDP/TCP, 5061 TCP) are "
        "open and every REGISTER is digest-authenticated.",
    )
    acknowledge(
        edge.load_balancer,
        "ELB2",
        "NLB access logs cover TLS listeners only; this NLB passes TCP/UDP (and TLS as TCP) straight through, "
        "so there would be nothing to log. The edge logs every registration itself.",
    )
    execution_policy = edge.task.execution_role and edge.task.execution_role.node.try_find_child("DefaultPolicy")
    if execution_policy is not None:
        acknowledge(
            execution_policy,
            "IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions; the image pull itself is scoped to "
            "the asset repository.",
        )


def _app_policy(stack: PgsmStack) -> None:
    for handler, policy in stack.access.items():
        access = access_of(handler)
        if access.stream:
            acknowledge(
                policy,
                "IAM5[Resource::*]",
                "dynamodb:ListStreams has no resource-level permissions (the stream reads are scoped to the "
                "accounts table's stream).",
            )
        for arn_text in stack.wildcard_resources(access):
            acknowledge(
                policy,
                f"IAM5[Resource::{arn_text}]",
                "Objects of the app's own bucket, indexes of its own tables, paths of its own search domain.",
            )


def _bucket_notifications(stack: PgsmStack) -> None:
    """CDK's own handler that sets the bucket's notification configuration (a CloudFormation bucket cannot
    name a function whose permission names the bucket without a cycle)."""
    for child in stack.node.children:
        if not child.node.id.startswith("BucketNotificationsHandler"):
            continue
        role = child.node.try_find_child("Role")
        if role is None:
            continue
        acknowledge(
            role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's bucket-notification handler: writes only its own logs; the construct fixes its role.",
        )
        policy = role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            acknowledge(
                policy,
                "IAM5[Resource::*]",
                "CDK's bucket-notification handler calls s3:PutBucketNotification, which the construct grants "
                "on all buckets; it runs only during deployments.",
            )
