"""The whole system in one stack per stage: data, queues, files, search, secrets, the Chalice app, the SIP
edge and the alarms. Every name, ARN and endpoint reaches the code through environment variables."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from constructs import Construct

from infra import application as app_handlers
from infra.access import SECRET_VARIABLES, Access, access_of
from infra.api_edge import ApiEdge
from infra.application import ChaliceApp, Handler, function_role
from infra.config import StageConfig
from infra.domain import ApiDomain
from infra.messaging import WorkQueue, failure_queue
from infra.monitoring import Alarms
from infra.nag import acknowledge_accepted_findings
from infra.search import SEARCH_HTTP_ACTIONS, SEARCH_READ_ACTIONS, SearchDomain
from infra.sip_edge import SipEdge
from infra.storage import Storage
from infra.tables import Tables, table_specs

REPO_ROOT = Path(__file__).resolve().parent.parent
SIP_EDGE_DIR = REPO_ROOT / "sip-edge"
APP_TABLE_ACTIONS = (
    "BatchGetItem",
    "BatchWriteItem",
    "ConditionCheckItem",
    "DeleteItem",
    "DescribeTable",
    "GetItem",
    "PutItem",
    "Query",
    "Scan",
    "UpdateItem",
)
READ_TABLE_ACTIONS = ("BatchGetItem", "ConditionCheckItem", "DescribeTable", "GetItem", "Query", "Scan")
CONSUMER_QUEUE_ACTIONS = (
    "ReceiveMessage",
    "DeleteMessage",
    "ChangeMessageVisibility",
    "GetQueueAttributes",
    "GetQueueUrl",
)
# Log retentions a stage may choose (CloudWatch accepts only some numbers of days).
RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


class PgsmStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = config
        retention = RETENTION[config.log_retention_days]
        self.tables = Tables(self, "Tables", prefix=config.table_prefix, production=config.production)
        self.sms = WorkQueue(
            self,
            "SmsQueue",
            name=f"{config.table_prefix}-sms",
            visibility_timeout=app_handlers.visibility_timeout(app_handlers.SEND_SMS),
            fifo=True,  # one message group: one batch in flight (application.SEND_SMS)
        )
        self.sip_events = WorkQueue(
            self,
            "SipEventsQueue",
            name=f"{config.table_prefix}-sip-events",
            visibility_timeout=app_handlers.visibility_timeout(app_handlers.RECORD_SIP_EVENTS),
        )
        self.imports = WorkQueue(
            self,
            "ImportQueue",
            name=f"{config.table_prefix}-import-chunks",
            visibility_timeout=app_handlers.visibility_timeout(app_handlers.RUN_IMPORT_CHUNK),
        )
        # What the accounts stream and the S3 notification give up on (infra/README.md, runbook)
        self.index_failures = failure_queue(self, "IndexFailures", name=f"{config.table_prefix}-index-failures")
        self.upload_failures = failure_queue(self, "UploadFailures", name=f"{config.table_prefix}-upload-failures")
        self.storage = Storage(
            self,
            "Storage",
            production=config.production,
            reports_days=config.reports_expiry_days,
            imports_days=config.imports_expiry_days,
        )
        self.roles = {handler: function_role(self, handler) for handler in app_handlers.ALL_HANDLERS}
        self.search = SearchDomain(
            self,
            "Search",
            domain_name=f"{config.table_prefix}-search",
            size=config.search,
            writers=[self.roles[h] for h in app_handlers.ALL_HANDLERS if access_of(h).search == "write"],
            readers=[self.roles[h] for h in app_handlers.ALL_HANDLERS if access_of(h).search == "read"],
            production=config.production,
            log_retention=retention,
        )
        self.twilio_secret = secretsmanager.Secret(
            self,
            "TwilioSecret",
            description="Twilio credentials: JSON with account_sid, auth_token and messaging_service_sid or from",
        )
        self.licence_secret = secretsmanager.Secret(
            self, "LicenceUpstreamSecret", description="The licence vendor's token for this server: JSON with token"
        )
        # the key of the SMS status callbacks' capability URLs (services/activation.callback_key), generated
        self.callback_secret = secretsmanager.Secret(
            self,
            "SmsCallbackSecret",
            description="The key of the SMS status callbacks' URLs: JSON with key (generated)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",  # noqa: S106 (an empty JSON object, the key is generated into it)
                generate_string_key="key",
                password_length=48,
                exclude_punctuation=True,
            ),
        )
        self.email_identity = (
            ses.EmailIdentity(self, "EmailIdentity", identity=ses.Identity.domain(config.ses_domain))
            if config.ses_domain
            else None
        )
        self.access = {handler: self._grant(handler) for handler in app_handlers.ALL_HANDLERS}
        self.app = ChaliceApp(
            self,
            "App",
            source_dir=REPO_ROOT,
            roles=self.roles,
            environment=self.app_environment(),
            withheld={
                h: frozenset(v for v in SECRET_VARIABLES if v not in access_of(h).secrets)
                for h in app_handlers.ALL_HANDLERS
            },
            log_retention=retention,
            region=config.region,
            api_name=f"{config.table_prefix}-api",
        )
        self._wire_events()
        api_function = self.app.function_resource(app_handlers.API)
        # the API cannot take the concurrency the queue consumers need (and is capped there)
        api_function.add_property_override("ReservedConcurrentExecutions", config.api_reserved_concurrency)
        self.api_edge = ApiEdge(
            self,
            "ApiEdge",
            api=self.app.chalice.get_resource(app_handlers.REST_API),
            api_name=self.app.api_name,
            stage_name=app_handlers.API_STAGE,
            log_retention=retention,
            account_role=config.api_gateway_cloudwatch_role,
        )
        self.api_domain = (
            ApiDomain(
                self,
                "ApiDomain",
                config=config.domain,
                api=self.app.chalice.get_resource(app_handlers.REST_API),
            )
            if config.domain
            else None
        )
        self.edge = SipEdge(
            self,
            "SipEdge",
            source_dir=SIP_EDGE_DIR,
            size=config.edge,
            tables=self.tables.by_name,
            events_queue=self.sip_events.queue,
            environment=self.edge_environment(),
            log_retention=retention,
            certificate_secret_arn=config.sip_certificate_secret_arn,
            base_digest=config.sip_edge_base_digest,
        )
        if self.api_domain is not None:
            self.api_domain.point_sip_name(self.edge.load_balancer)
        self._alarms()
        self._outputs()
        acknowledge_accepted_findings(self)

    def app_environment(self) -> dict[str, str]:
        """The app's configuration (chalicelib/settings.py's ENV_* names and app.py's queue names and stream; AWS_REGION
        is Lambda's own). Queue names are the literal names (not tokens): `chalice package` imports app.py with
        these variables set and writes the names into `Fn::Sub` expressions, where a CDK token would not survive.
        No endpoint overrides (`*_ENDPOINT_URL`: local stack only) and no credentials: the functions read the two
        secrets named by their ARNs."""
        config = self.config
        environment = {
            "STORAGE_BACKEND": "dynamodb",
            "TABLE_PREFIX": config.table_prefix,
            "SEARCH_BACKEND": "opensearch",
            "OPENSEARCH_URL": self.search.url,
            "OPENSEARCH_INDEX": "accounts",
            "OPENSEARCH_SIGV4": "true",  # the domain admits the app's role only: requests are signed with it
            "ACCOUNTS_STREAM_ARN": self.tables["accounts"].table_stream_arn or "",
            "SMS_PROVIDER": "twilio",
            "SMS_QUEUE_URL": self.sms.queue.queue_url,
            "SMS_QUEUE_NAME": self.sms.name,
            "SMS_RATE_PER_SECOND": f"{config.sms_rate_per_second:g}",
            "SIP_EVENTS_QUEUE_NAME": self.sip_events.name,
            "IMPORT_QUEUE_URL": self.imports.queue.queue_url,
            "IMPORT_QUEUE_NAME": self.imports.name,
            "IMPORTS_BUCKET": self.storage.bucket.bucket_name,
            "TWILIO_SECRET_ARN": self.twilio_secret.secret_arn,
            "LICENCE_UPSTREAM_SECRET_ARN": self.licence_secret.secret_arn,
            "SMS_CALLBACK_SECRET_ARN": self.callback_secret.secret_arn,
            "EMAIL_PROVIDER": "ses" if self.email_identity else "outbox",
        }
        optional = {
            "PUBLIC_BASE_URL": config.public_base_url,
            "LICENCE_UPSTREAM_URL": config.licence_upstream_url,
            "LICENCE_UPSTREAM_PUBLIC_KEY": config.licence_upstream_public_key,
        }
        environment.update({name: value for name, value in optional.items() if value})
        if config.email_from or config.ses_domain:
            environment["EMAIL_FROM"] = config.email_from or f"provisioning@{config.ses_domain}"
        return environment

    def edge_environment(self) -> dict[str, str]:
        return {
            "TABLE_PREFIX": self.config.table_prefix,
            "AWS_REGION": self.region,
            "SIP_EVENTS_QUEUE_URL": self.sip_events.queue.queue_url,
            "SIP_DEFAULT_TRANSPORTS": self.config.sip_default_transports,
            # the name phones connect to (the self-signed pair's name when no certificate secret is given)
            "SIP_TLS_NAME": self.config.domain.sip_name if self.config.domain else "sip-edge.local",
        }

    def _queue_arns(self, names: tuple[str, ...]) -> list[str]:
        queues = {
            "sms": self.sms.queue,
            "sip_events": self.sip_events.queue,
            "imports": self.imports.queue,
            "index_failures": self.index_failures,
            "upload_failures": self.upload_failures,
        }
        return [queues[name].queue_arn for name in names]

    def _table_arns(self, names: tuple[str, ...]) -> list[str]:
        indexed = {spec.name for spec in table_specs() if spec.indexes}
        arns = [self.tables[n].table_arn for n in names]
        return arns + [f"{self.tables[n].table_arn}/index/*" for n in names if n in indexed]

    def _statements(self, access: Access) -> list[iam.PolicyStatement]:
        """One policy per function, written out statement by statement (CDK's per-resource grants would overflow
        the role's inline policy size and split it into several, some of which the functions could not wait
        for)."""
        statements = []
        table_grants = (("Tables", access.tables, APP_TABLE_ACTIONS), ("ReadTables", access.reads, READ_TABLE_ACTIONS))
        for sid, names, actions in table_grants:
            if names:
                statements.append(
                    iam.PolicyStatement(
                        sid=sid, actions=[f"dynamodb:{action}" for action in actions], resources=self._table_arns(names)
                    )
                )
        if access.stream:
            statements += [
                iam.PolicyStatement(
                    sid="AccountsStream",
                    actions=["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                    resources=[self.tables["accounts"].table_stream_arn or ""],
                ),
                iam.PolicyStatement(sid="ListStreams", actions=["dynamodb:ListStreams"], resources=["*"]),
            ]
        if access.consumes:
            statements.append(
                iam.PolicyStatement(
                    sid="Consume",
                    actions=[f"sqs:{a}" for a in CONSUMER_QUEUE_ACTIONS],
                    resources=self._queue_arns(access.consumes),
                )
            )
        if access.sends:
            statements.append(
                iam.PolicyStatement(sid="Send", actions=["sqs:SendMessage"], resources=self._queue_arns(access.sends))
            )
        if access.files:
            bucket = self.storage.bucket
            statements += [
                iam.PolicyStatement(sid="FilesList", actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
                iam.PolicyStatement(
                    sid="Files",
                    actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    resources=[bucket.arn_for_objects("*")],
                ),
            ]
        if access.search:
            domain_arn = self.search.domain.domain_arn
            statements.append(
                iam.PolicyStatement(
                    sid="Search",
                    actions=list(SEARCH_HTTP_ACTIONS if access.search == "write" else SEARCH_READ_ACTIONS),
                    resources=[domain_arn, f"{domain_arn}/*"],
                )
            )
        secrets = {
            "TWILIO_SECRET_ARN": self.twilio_secret,
            "LICENCE_UPSTREAM_SECRET_ARN": self.licence_secret,
            "SMS_CALLBACK_SECRET_ARN": self.callback_secret,
        }
        if access.secrets:
            statements.append(
                iam.PolicyStatement(
                    sid="Secrets",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[secrets[variable].secret_arn for variable in access.secrets],
                )
            )
        if access.email and self.email_identity is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="Email",
                    actions=["ses:SendEmail", "ses:SendRawEmail"],
                    resources=[
                        self.format_arn(service="ses", resource="identity", resource_name=self.config.ses_domain)
                    ],
                )
            )
        return statements

    def _grant(self, handler: Handler) -> iam.Policy:
        return iam.Policy(
            self,
            f"{handler.logical_id}Access",
            roles=[self.roles[handler]],
            statements=self._statements(access_of(handler)),
        )

    def wildcard_resources(self, access: Access) -> list[str]:
        """The resources of `access`'s policy that end in `/*`, as cdk-nag prints them (`<LogicalId.Arn>/*`)."""
        resolved: list[tuple[object, str]] = []
        if access.files:
            resolved.append((self.storage.bucket.node.default_child, "/*"))
        if access.search:
            resolved.append((self.search.domain.node.default_child, "/*"))
        touched = set(access.tables) | set(access.reads)
        resolved += [
            (self.tables[spec.name].node.default_child, "/index/*")
            for spec in table_specs()
            if spec.indexes and spec.name in touched
        ]
        names = []
        for resource, suffix in resolved:
            assert isinstance(resource, cdk.CfnElement)
            names.append(f"<{self.get_logical_id(resource)}.Arn>{suffix}")
        return names

    def _wire_events(self) -> None:
        app = self.app
        app.point_queue(app_handlers.SEND_SMS, self.sms.queue)
        app.point_queue(app_handlers.RECORD_SIP_EVENTS, self.sip_events.queue)
        app.point_queue(app_handlers.RUN_IMPORT_CHUNK, self.imports.queue)
        app.point_stream(
            app_handlers.INDEX_ACCOUNTS, self.tables["accounts"].table_stream_arn or "", self.index_failures
        )
        app.notify_on_upload(app_handlers.IMPORT_OBJECT_CREATED, self.storage.bucket)
        app.on_async_failure(app_handlers.IMPORT_OBJECT_CREATED, self.upload_failures)
        app.allow_logs()
        for handler, policy in self.access.items():
            app.wait_for(handler, policy)

    def _alarms(self) -> None:
        alarms = Alarms(
            self,
            "Alarms",
            stage=self.config.stage,
            email=self.config.alarm_email,
            topic_arn=self.config.alarm_topic_arn,
        )
        alarms.dead_letters(
            {
                "Sms": self.sms.dead_letters,
                "SipEvents": self.sip_events.dead_letters,
                "ImportChunks": self.imports.dead_letters,
                "IndexFailures": self.index_failures,
                "UploadFailures": self.upload_failures,
            }
        )
        alarms.stream_iterator_age(self.app.function_name(app_handlers.INDEX_ACCOUNTS))
        alarms.handler_errors({h.logical_id: self.app.function_name(h) for h in self.app.handlers})
        alarms.throttling(self.tables.by_name.items())
        alarms.api_server_errors(self.app.api_name, app_handlers.API_STAGE)
        alarms.api_rates_and_latency(self.app.api_name, app_handlers.API_STAGE)
        alarms.edge_health(self.edge.target_groups)
        sms_logs = [
            self.app.log_groups[h.logical_id]
            for h in (app_handlers.SEND_SMS, app_handlers.API)
            if h.logical_id in self.app.log_groups
        ]
        alarms.sms_failure_rate(sms_logs)
        self.alarms = alarms

    def _outputs(self) -> None:
        cdk.CfnOutput(self, "SipEdgeAddress", value=self.edge.load_balancer.load_balancer_dns_name)
        cdk.CfnOutput(self, "FilesBucket", value=self.storage.bucket.bucket_name)
        cdk.CfnOutput(self, "TwilioSecretArn", value=self.twilio_secret.secret_arn)
        cdk.CfnOutput(self, "LicenceUpstreamSecretArn", value=self.licence_secret.secret_arn)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn)
        # for `python -m infra.search_access` (infra/README.md, First deploy)
        cdk.CfnOutput(self, "SearchEndpoint", value=self.search.url)
        cdk.CfnOutput(self, "SearchAdminRoleArn", value=self.search.admin_role.role_arn)
        cdk.CfnOutput(self, "IndexerRoleArn", value=self.roles[app_handlers.INDEX_ACCOUNTS].role_arn)
        cdk.CfnOutput(self, "ApiRoleArn", value=self.roles[app_handlers.API].role_arn)
