"""The Chalice app through Chalice's CDK construct (`chalice package` → SAM template → `CfnInclude`).

Chalice's packaging is given a role made here (`manage_iam_role: false`), so every permission the handlers
have is one of the grants below; the event sources Chalice derives from `app.py`'s decorators (queue names and
the stream ARN read from the environment at import) are pointed at this stack's resources by property
overrides, so a wrong or missing environment variable at packaging time cannot wire a handler to the wrong
queue. Handlers that app.py does not define (yet) are simply not in the package; `handlers` lists those that
are."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

from infra.lambda_package import PackageStats, optimize_chalice_output, packaging_region, require_runtime_python
from infra.storage import IMPORTS_PREFIX, IMPORTS_SUFFIX

API_HANDLER = "APIHandler"
API_STAGE = "api"
REST_API = "RestAPI"  # Chalice's logical id of the API


@dataclass(frozen=True)
class Handler:
    """A Chalice function: its name in app.py, its logical id in Chalice's template, and its sizing."""

    name: str
    logical_id: str
    timeout_seconds: int
    memory_mib: int
    reserved_concurrency: int | None = None


API = Handler("api_handler", API_HANDLER, timeout_seconds=29, memory_mib=1024)
INDEX_ACCOUNTS = Handler("index_accounts", "IndexAccounts", timeout_seconds=60, memory_mib=512)
# One at a time: the handler paces to SMS_RATE_PER_SECOND, which is the global rate only with concurrency 1. The
# SMS queue is FIFO and the app sends every SMS in one message group, so SQS hands out one batch at a time and
# the event source never invokes a second copy; the reserved concurrency of 1 is then never exceeded (no
# throttled receives eating into maxReceiveCount, the trouble with a standard queue) and keeps one execution
# set aside for SMS when the API uses up the account's concurrency.
SEND_SMS = Handler("send_sms", "SendSms", timeout_seconds=60, memory_mib=256, reserved_concurrency=1)
RECORD_SIP_EVENTS = Handler("record_sip_events", "RecordSipEvents", timeout_seconds=60, memory_mib=256)
RUN_IMPORT_CHUNK = Handler("run_import_chunk", "RunImportChunk", timeout_seconds=300, memory_mib=1024)
IMPORT_OBJECT_CREATED = Handler("import_object_created", "ImportObjectCreated", timeout_seconds=60, memory_mib=256)
ALL_HANDLERS = (API, INDEX_ACCOUNTS, SEND_SMS, RECORD_SIP_EVENTS, RUN_IMPORT_CHUNK, IMPORT_OBJECT_CREATED)

# SQS: the visibility timeout should be at least six times the consumer's timeout (AWS's advice for Lambda).
VISIBILITY_FACTOR = 6


def visibility_timeout(handler: Handler) -> cdk.Duration:
    return cdk.Duration.seconds(handler.timeout_seconds * VISIBILITY_FACTOR)


def app_role(scope: Construct) -> iam.Role:
    return iam.Role(
        scope,
        "AppRole",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="The Chalice app's functions: exactly the tables, queues, bucket, domain and secrets it uses",
    )


class SlimChalice(Chalice):
    """Chalice's construct, with its deployment.zip slimmed and precompiled (infra/lambda_package.py) right after
    `chalice package` writes it and before the construct makes it an asset."""

    package_stats: PackageStats

    def _package_app(self) -> None:
        # `chalice package` sets the stage's environment variables in this process to import app.py, and
        # leaves them there: a later step of the same process (a test starting the local stack) would inherit
        # the AWS settings (OpenSearch with SigV4, Twilio...). Put the environment back as it was.
        saved = dict(os.environ)
        try:
            super()._package_app()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.package_stats = optimize_chalice_output(Path(self._sam_package_dir))


class ChaliceApp(Construct):
    """`source_dir` is the repository root (app.py, chalicelib/, requirements.txt, .chalice/config.json)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_dir: Path,
        role: iam.Role,
        environment: Mapping[str, str],
        log_retention: logs.RetentionDays,
        region: str,
        api_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        require_runtime_python()
        self.role = role
        # Only literal values go through `chalice package`: it sets them in this process's environment and
        # imports app.py, whose module then stays cached here, so a CDK token would outlive its app (a second
        # synthesis in the same process would reference the first one). Values that are references to this
        # stack's resources are set on each function afterwards.
        literal = {k: v for k, v in environment.items() if not cdk.Token.is_unresolved(v)}
        self._references = {k: v for k, v in environment.items() if cdk.Token.is_unresolved(v)}
        with packaging_region(region):
            self.chalice = self._package(source_dir, role.role_arn, literal)
        template = json.loads((Path(self.chalice._sam_package_dir) / "sam.json").read_text())
        self._template_resources: dict[str, dict[str, object]] = template["Resources"]
        self.handlers = [h for h in ALL_HANDLERS if h.logical_id in self._template_resources]
        self.log_groups: dict[str, logs.LogGroup] = {}  # by function logical id
        for handler in self.handlers:
            self._size(handler)
            self._log_group(handler, log_retention)
            for name, value in self._references.items():
                self.function_resource(handler).add_property_override(f"Environment.Variables.{name}", value)
        self.api_name = api_name
        self.chalice.get_resource(REST_API).add_property_override("Name", api_name)

    def _package(self, source_dir: Path, role_arn: str, environment: Mapping[str, str]) -> SlimChalice:
        return SlimChalice(
            self,
            "Chalice",
            source_dir=str(source_dir),
            stage_config={
                "manage_iam_role": False,
                "iam_role_arn": role_arn,
                "autogen_policy": False,
                "api_gateway_stage": API_STAGE,
                "api_gateway_endpoint_type": "REGIONAL",
                "environment_variables": dict(environment),
            },
        )

    @property
    def package_path(self) -> Path:
        return Path(self.chalice._sam_package_dir) / "deployment.zip"

    def has(self, handler: Handler) -> bool:
        return handler in self.handlers

    def function_resource(self, handler: Handler) -> cdk.CfnResource:
        resource: cdk.CfnResource = self.chalice.get_resource(handler.logical_id)
        return resource

    def function_name(self, handler: Handler) -> str:
        return self.function_resource(handler).ref

    def _size(self, handler: Handler) -> None:
        function = self.function_resource(handler)
        function.add_property_override("Timeout", handler.timeout_seconds)
        function.add_property_override("MemorySize", handler.memory_mib)
        if handler.reserved_concurrency is not None:
            function.add_property_override("ReservedConcurrentExecutions", handler.reserved_concurrency)

    def _log_group(self, handler: Handler, retention: logs.RetentionDays) -> None:
        """The function's log group, made here to set its retention (Chalice's own `log_retention_in_days`
        names the API handler's group after a resource that does not exist in its SAM output)."""
        self.log_groups[handler.logical_id] = logs.LogGroup(
            self,
            f"{handler.logical_id}Logs",
            log_group_name=cdk.Fn.join("", ["/aws/lambda/", self.function_name(handler)]),
            retention=retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

    def event_source(self, handler: Handler, kind: str) -> str | None:
        """The name Chalice gave the handler's event (`SendSmsSqsEventSource`, …), if the handler exists."""
        if not self.has(handler):
            return None
        properties = self._template_resources[handler.logical_id]["Properties"]
        assert isinstance(properties, dict)
        events: dict[str, dict[str, str]] = properties.get("Events", {})
        return next((name for name, event in events.items() if event["Type"] == kind), None)

    def point_queue(self, handler: Handler, queue: sqs.IQueue) -> None:
        event = self.event_source(handler, "SQS")
        if event is None:
            return
        function = self.function_resource(handler)
        function.add_property_override(f"Events.{event}.Properties.Queue", queue.queue_arn)
        if queue.fifo:  # Lambda refuses a batching window (even 0, which Chalice writes) on a FIFO queue
            function.add_property_deletion_override(f"Events.{event}.Properties.MaximumBatchingWindowInSeconds")

    def point_stream(self, handler: Handler, stream_arn: str) -> None:
        event = self.event_source(handler, "DynamoDB")
        if event is not None:
            self.function_resource(handler).add_property_override(f"Events.{event}.Properties.Stream", stream_arn)

    def notify_on_upload(self, handler: Handler, bucket: s3.Bucket) -> None:
        """S3 → `@app.lambda_function` for new CSV files under `imports/` (Chalice's packaging refuses
        `@app.on_s3_event`)."""
        if not self.has(handler):
            return
        function = lambda_.Function.from_function_attributes(
            self,
            f"{handler.logical_id}Function",
            function_arn=self.function_resource(handler).get_att("Arn").to_string(),
            same_environment=True,
        )
        bucket.add_event_notification(
            cdk.aws_s3.EventType.OBJECT_CREATED,
            s3n.LambdaDestination(function),
            s3.NotificationKeyFilter(prefix=IMPORTS_PREFIX, suffix=IMPORTS_SUFFIX),
        )

    def allow_logs(self) -> None:
        """Write access to the functions' own log groups, as a policy apart from the role's main policy:
        the log groups' names come from the functions, which depend on the role (one policy would be a cycle)."""
        policy = iam.Policy(self, "LogsPolicy", roles=[self.role])
        for log_group in self.log_groups.values():
            policy.add_statements(
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                )
            )

    def wait_for(self, policy: iam.Policy) -> None:
        """Functions (and so their event source mappings, which check the role) are created after `policy`."""
        cfn_policy = policy.node.default_child
        assert isinstance(cfn_policy, cdk.CfnResource)
        for handler in self.handlers:
            self.function_resource(handler).add_resource_dependency(cfn_policy)


def chalice_out_dir() -> Path:
    """Where the construct writes `chalice package`'s output: the current directory's `chalice.out`."""
    return Path(os.getcwd()) / "chalice.out"
