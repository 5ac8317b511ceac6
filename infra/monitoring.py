"""CloudWatch alarms, all notifying one SNS topic (encrypted with a key CloudWatch may use).

SMS failure rate: the app does not publish a metric, so two metric filters count its `sms_outcome` log lines
(one JSON object per final SMS outcome, `{"event": "sms_outcome", "outcome": "sent" | "delivered" |
"failed" | "undelivered", ...}`, written by the queue consumer and the status callback) in the namespace
`PgsmOperator/<stage>`; the alarm fires when more than `SMS_FAILURE_PERCENT` of the outcomes in an hour are
failures (and at least `SMS_FAILURE_MIN_COUNT` failed)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

METRICS_NAMESPACE = "PgsmOperator"
API_5XX_PER_5_MINUTES = 5
API_5XX_RATE = 0.01  # of the requests in 5 minutes
API_4XX_RATE = 0.25  # many refusals: a client gone wrong, or someone probing
API_P99_LATENCY_MS = 5000
# The accounts stream's oldest unprocessed record: search lags behind by this much (the records expire at 24 h,
# the event source gives up at 6 h: infra/application.py)
ITERATOR_AGE_ALARM = cdk.Duration.minutes(15)
SMS_FAILURE_PERCENT = 20
SMS_FAILURE_MIN_COUNT = 5
SMS_FAILED_PATTERN = '{ ($.event = "sms_outcome") && (($.outcome = "failed") || ($.outcome = "undelivered")) }'
SMS_OUTCOME_PATTERN = '{ $.event = "sms_outcome" }'


class Alarms(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, email: str, topic_arn: str = "") -> None:
        super().__init__(scope, construct_id)
        self.stage = stage
        self.namespace = f"{METRICS_NAMESPACE}/{stage}"
        key = kms.Key(self, "TopicKey", enable_key_rotation=True, description="Encrypts the alarm topic")
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(self, "Topic", master_key=key, enforce_ssl=True)
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self.actions = [actions.SnsAction(self.topic)]
        if topic_arn:  # a team's existing topic (pager, chat): notified directly by every alarm
            self.actions.append(actions.SnsAction(sns.Topic.from_topic_arn(self, "ForwardTopic", topic_arn)))

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        *,
        below: bool = False,
    ) -> None:
        """Alarms when the metric reaches `threshold` (or, with `below`, falls under it; missing data then
        counts as breaching: no data from a health metric means nothing is reporting)."""
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=2 if below else 1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
            if below
            else cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING
            if below
            else cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{self.stage}: {description}",
        )
        alarm.add_alarm_action(*self.actions)

    def dead_letters(self, queues: Mapping[str, sqs.IQueue]) -> None:
        for name, queue in queues.items():
            self._alarm(
                f"{name}DeadLetters",
                queue.metric_approximate_number_of_messages_visible(period=cdk.Duration.minutes(5)),
                1,
                f"messages in the {name} dead-letter queue",
            )

    @staticmethod
    def _function_metric(name: str, function_name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/Lambda",
            metric_name=name,
            dimensions_map={"FunctionName": function_name},
            statistic=statistic,
            period=cdk.Duration.minutes(5),
        )

    def handler_errors(self, functions: Mapping[str, str]) -> None:
        """`functions`: logical id → function name."""
        for logical_id, function_name in functions.items():
            metric = self._function_metric("Errors", function_name, "Sum")
            self._alarm(f"{logical_id}Errors", metric, 1, f"{logical_id} raised errors")

    def stream_iterator_age(self, function_name: str) -> None:
        metric = self._function_metric("IteratorAge", function_name, "Maximum")
        self._alarm(
            "StreamIteratorAge",
            metric,
            ITERATOR_AGE_ALARM.to_milliseconds(),
            f"search lags the accounts table by more than {ITERATOR_AGE_ALARM.to_minutes():g} minutes",
        )

    def api_server_errors(self, api_name: str, stage: str) -> None:
        """The API handler turns every exception into a 500 answer, so Lambda's Errors stay at 0: count 5XX at
        API Gateway instead."""
        metric = cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions_map={"ApiName": api_name, "Stage": stage},
            statistic="Sum",
            period=cdk.Duration.minutes(5),
        )
        self._alarm("Api5xx", metric, API_5XX_PER_5_MINUTES, "the API answered 5XX")

    def api_rates_and_latency(self, api_name: str, stage: str) -> None:
        def metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name=name,
                dimensions_map={"ApiName": api_name, "Stage": stage},
                statistic=statistic,
                period=cdk.Duration.minutes(5),
            )

        # 4XXError and 5XXError averaged over the requests are the rates of such answers
        self._alarm("Api5xxRate", metric("5XXError", "Average"), API_5XX_RATE, "more than 1% of API answers 5XX")
        self._alarm("Api4xxRate", metric("4XXError", "Average"), API_4XX_RATE, "more than 25% of API answers 4XX")
        self._alarm(
            "ApiLatency", metric("Latency", "p99"), API_P99_LATENCY_MS, "the API's p99 latency is over 5 seconds"
        )

    def edge_health(self, target_groups: Mapping[str, elbv2.NetworkTargetGroup]) -> None:
        for name, group in target_groups.items():
            self._alarm(
                f"Edge{name}Healthy",
                group.metrics.healthy_host_count(period=cdk.Duration.minutes(1), statistic="Minimum"),
                1,
                f"no healthy SIP edge task behind the NLB on {name}",
                below=True,
            )

    def throttling(self, tables: Iterable[tuple[str, dynamodb.ITable]]) -> None:
        for name, table in tables:
            throttled = cloudwatch.MathExpression(
                expression="reads + writes",
                using_metrics={
                    "reads": table.metric("ReadThrottleEvents", statistic="Sum", period=cdk.Duration.minutes(5)),
                    "writes": table.metric("WriteThrottleEvents", statistic="Sum", period=cdk.Duration.minutes(5)),
                },
                label=f"{name} throttle events",
                period=cdk.Duration.minutes(5),
            )
            self._alarm(f"{name.capitalize()}Throttling", throttled, 1, f"DynamoDB throttled requests on {name}")

    def sms_failure_rate(self, log_groups: Iterable[logs.ILogGroup]) -> None:
        """`log_groups`: the log groups of the functions that record SMS outcomes (queue consumer, API)."""
        for index, log_group in enumerate(log_groups):
            for metric_name, pattern in (("SmsFailed", SMS_FAILED_PATTERN), ("SmsOutcomes", SMS_OUTCOME_PATTERN)):
                logs.CfnMetricFilter(
                    self,
                    f"{metric_name}Filter{index}",
                    log_group_name=log_group.log_group_name,
                    filter_pattern=pattern,
                    metric_transformations=[
                        logs.CfnMetricFilter.MetricTransformationProperty(
                            metric_namespace=self.namespace,
                            metric_name=metric_name,
                            metric_value="1",
                            default_value=0,
                            dimensions=None,
                        )
                    ],
                )

        def count(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=self.namespace, metric_name=name, statistic="Sum", period=cdk.Duration.hours(1)
            )

        rate = cloudwatch.MathExpression(
            expression=f"IF(failed >= {SMS_FAILURE_MIN_COUNT}, 100 * failed / outcomes, 0)",
            using_metrics={"failed": count("SmsFailed"), "outcomes": count("SmsOutcomes")},
            label="SMS failure rate (%)",
            period=cdk.Duration.hours(1),
        )
        self._alarm("SmsFailureRate", rate, SMS_FAILURE_PERCENT, f"more than {SMS_FAILURE_PERCENT}% of SMS failed")
