"""The SIP edge (Fargate behind an NLB) and the CloudWatch alarms."""

from __future__ import annotations

import json
from typing import Any

from infra.sip_edge import EDGE_TABLES
from tests.infra.conftest import PROD_BASE_DIGEST, PROD_DOMAIN, PROD_SIP_CERTIFICATE_SECRET, Synth


def _logical_id(synth: Synth, construct: Any, stage: str = "dev") -> str:
    return synth.stacks[stage].get_logical_id(construct.node.default_child)


def test_nlb_passes_sip_over_udp_and_tcp_on_5060_and_tls_as_tcp_on_5061(synth: Synth) -> None:
    (nlb,) = synth.resources("AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    assert nlb["Properties"]["Type"] == "network"
    assert nlb["Properties"]["Scheme"] == "internet-facing"
    listeners = {
        (listener["Properties"]["Port"], listener["Properties"]["Protocol"])
        for listener in synth.resources("AWS::ElasticLoadBalancingV2::Listener").values()
    }
    assert listeners == {(5060, "TCP_UDP"), (5061, "TCP")}
    groups = synth.resources("AWS::ElasticLoadBalancingV2::TargetGroup").values()
    assert {(g["Properties"]["Port"], g["Properties"]["Protocol"]) for g in groups} == listeners
    for group in groups:
        assert group["Properties"]["TargetType"] == "ip"
        assert group["Properties"]["HealthCheckProtocol"] == "TCP"
        assert group["Properties"]["HealthCheckPort"] == str(group["Properties"]["Port"])  # each listener's own
        attributes = {a["Key"]: a["Value"] for a in group["Properties"]["TargetGroupAttributes"]}
        assert attributes["preserve_client_ip.enabled"] == "true"


def test_edge_image_is_built_from_the_sip_edge_directory(synth: Synth) -> None:
    (task,) = synth.resources("AWS::ECS::TaskDefinition").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    assert "cdk-hnb659fds-container-assets" in json.dumps(container["Image"])
    manifest = json.loads((synth.outdir / "Pgsm-dev.assets.json").read_text())
    (image,) = manifest["dockerImages"].values()
    staged = synth.outdir / image["source"]["directory"]
    assert (staged / "Dockerfile").is_file()
    assert not (staged / ".pydeps").exists()  # local installs stay out of the build context
    ports = {(p["ContainerPort"], p["Protocol"]) for p in container["PortMappings"]}
    assert ports == {(5060, "udp"), (5060, "tcp"), (5061, "tcp")}
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    variables = {v["Name"]: v["Value"] for v in container["Environment"]}
    assert variables["TABLE_PREFIX"] == "pgsm-dev"
    assert variables["SIP_EVENTS_QUEUE_URL"] == {"Ref": _logical_id(synth, synth.stacks["dev"].sip_events.queue)}
    (secret,) = container["Secrets"]
    assert secret["Name"] == "SIP_AUTH_SECRET"
    assert secret["ValueFrom"] == {"Ref": _logical_id(synth, synth.stacks["dev"].edge.auth_secret)}


def test_edge_tasks_find_each_other_for_their_dmq_bus_and_only_they_reach_it(synth: Synth) -> None:
    (task,) = synth.resources("AWS::ECS::TaskDefinition").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    variables = {v["Name"]: v["Value"] for v in container["Environment"]}
    assert variables["SIP_DMQ_PEERS"] == "sip:tasks.sip-edge.internal:5090"
    assert (variables["SIP_DMQ_MULTI_NOTIFY"], variables["SIP_DMQ_PORT"]) == ("1", "5090")
    (namespace,) = synth.resources("AWS::ServiceDiscovery::PrivateDnsNamespace").values()
    assert namespace["Properties"]["Name"] == "sip-edge.internal"
    (discovery,) = synth.resources("AWS::ServiceDiscovery::Service").values()
    assert discovery["Properties"]["Name"] == "tasks"
    assert discovery["Properties"]["DnsConfig"]["DnsRecords"] == [{"TTL": 10, "Type": "A"}]
    group = _logical_id(synth, synth.stacks["dev"].edge.security_group)
    dmq = [
        rule["Properties"]
        for rule in synth.resources("AWS::EC2::SecurityGroupIngress").values()
        if rule["Properties"].get("FromPort") == 5090
    ]
    assert dmq == [{"IpProtocol": "udp", "FromPort": 5090, "ToPort": 5090, "Description": "DMQ between edge tasks",
                    "GroupId": {"Fn::GetAtt": [group, "GroupId"]},
                    "SourceSecurityGroupId": {"Fn::GetAtt": [group, "GroupId"]}}]  # fmt: skip
    inline = synth.resources("AWS::EC2::SecurityGroup")[group]["Properties"]["SecurityGroupIngress"]
    assert not [rule for rule in inline if rule.get("FromPort") == 5090]  # never from anywhere


def test_edge_task_role_reads_only_its_four_tables_and_sends_only_session_events(synth: Synth) -> None:
    stack = synth.stacks["dev"]
    role = _logical_id(synth, stack.edge.task_role)
    statements = [
        s
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    tables = {json.dumps({"Fn::GetAtt": [_logical_id(synth, stack.tables[name]), "Arn"]}) for name in EDGE_TABLES}
    assert len(statements) == 2
    reads, sends = statements
    assert sorted(reads["Action"]) == ["dynamodb:BatchGetItem", "dynamodb:GetItem"]
    assert {json.dumps(r) for r in reads["Resource"]} == tables
    assert sends["Action"] == "sqs:SendMessage"
    assert sends["Resource"] == {"Fn::GetAtt": [_logical_id(synth, stack.sip_events.queue), "Arn"]}


def test_edge_service_runs_the_stage_count_in_public_subnets_with_a_grace_period(synth: Synth) -> None:
    for stage, count in (("dev", 1), ("prod", 2)):
        (service,) = synth.resources("AWS::ECS::Service", stage).values()
        assert service["Properties"]["DesiredCount"] == count
        assert service["Properties"]["HealthCheckGracePeriodSeconds"] == 60
        assert service["Properties"]["LaunchType"] == "FARGATE"
        network = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "ENABLED"  # public subnets, no NAT gateway


def _alarms(synth: Synth) -> list[dict[str, Any]]:
    return [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]


def test_an_alarm_watches_every_dead_letter_queue_and_failure_destination(synth: Synth) -> None:
    stack = synth.stacks["dev"]
    watched = {
        json.dumps(d["Value"])
        for a in _alarms(synth)
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        for d in a["Dimensions"]
    }
    dead_letters = [stack.sms.dead_letters, stack.sip_events.dead_letters, stack.imports.dead_letters]
    dead_letters += [stack.index_failures, stack.upload_failures]  # the on-failure destinations
    assert watched == {json.dumps({"Fn::GetAtt": [_logical_id(synth, q), "QueueName"]}) for q in dead_letters}


def test_an_alarm_watches_every_functions_errors_and_every_tables_throttling(synth: Synth) -> None:
    errors = {a["Dimensions"][0]["Value"]["Ref"] for a in _alarms(synth) if a.get("MetricName") == "Errors"}
    assert errors == set(synth.resources("AWS::Serverless::Function"))
    throttled = [a for a in _alarms(synth) if "ReadThrottleEvents" in json.dumps(a.get("Metrics", []))]
    assert len(throttled) == len(synth.resources("AWS::DynamoDB::Table"))


def test_sms_failure_rate_alarm_reads_metric_filters_on_the_sms_logs(synth: Synth) -> None:
    filters = list(synth.resources("AWS::Logs::MetricFilter").values())
    names = {f["Properties"]["MetricTransformations"][0]["MetricName"] for f in filters}
    assert names == {"SmsFailed", "SmsOutcomes"}
    logged = {json.dumps(f["Properties"]["LogGroupName"]) for f in filters}
    assert len(logged) == 2  # the SMS consumer's and the API's (status callbacks)
    (rate,) = [a for a in _alarms(synth) if "SmsFailed" in json.dumps(a.get("Metrics", []))]
    assert rate["Threshold"] == 20


def test_every_alarm_notifies_the_encrypted_alarm_topic(synth: Synth) -> None:
    (topic_id,) = synth.resources("AWS::SNS::Topic")
    (topic,) = synth.resources("AWS::SNS::Topic").values()
    assert "KmsMasterKeyId" in topic["Properties"]
    alarms = synth.resources("AWS::CloudWatch::Alarm")
    ours = [a["Properties"] for name, a in alarms.items() if name.startswith("Alarms")]
    assert len(ours) == len(alarms) - 2  # and the edge scaling's two, which trigger its step policies
    for alarm in ours:
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_api_5xx_answers_raise_an_alarm_on_the_named_api(synth: Synth) -> None:
    (api,) = synth.resources("AWS::Serverless::Api").values()
    assert api["Properties"]["Name"] == "pgsm-dev-api"
    (alarm,) = [a for a in _alarms(synth) if a.get("MetricName") == "5XXError" and a["Statistic"] == "Sum"]
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"ApiName": "pgsm-dev-api", "Stage": "api"}


def test_an_alarm_fires_when_no_edge_task_is_healthy_behind_either_listener(synth: Synth) -> None:
    healthy = [a for a in _alarms(synth) if a.get("MetricName") == "HealthyHostCount"]
    assert len(healthy) == 2
    for alarm in healthy:
        assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
        assert alarm["TreatMissingData"] == "breaching"
    groups = {json.dumps(d["Value"]) for a in healthy for d in a["Dimensions"] if d["Name"] == "TargetGroup"}
    assert len(groups) == 2


def test_prod_edge_reads_its_tls_certificate_from_the_configured_secret_and_may_read_only_that_one(
    synth: Synth,
) -> None:
    stack = synth.stacks["prod"]
    (task,) = synth.resources("AWS::ECS::TaskDefinition", "prod").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    variables = {v["Name"]: v["Value"] for v in container["Environment"]}
    assert variables["SIP_TLS_CERTIFICATE_SECRET_ARN"] == PROD_SIP_CERTIFICATE_SECRET
    assert variables["SIP_TLS_NAME"] == f"sip.{PROD_DOMAIN}"
    role = {"Ref": _logical_id(synth, stack.edge.task_role, "prod")}
    reads = [
        s
        for policy in synth.resources("AWS::IAM::Policy", "prod").values()
        if role in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "secretsmanager" in json.dumps(s["Action"])
    ]
    assert [s["Resource"] for s in reads] == [PROD_SIP_CERTIFICATE_SECRET]
    (dev_task,) = synth.resources("AWS::ECS::TaskDefinition").values()
    dev_variables = {v["Name"]: v["Value"] for v in dev_task["Properties"]["ContainerDefinitions"][0]["Environment"]}
    assert "SIP_TLS_CERTIFICATE_SECRET_ARN" not in dev_variables  # dev: start.sh's self-signed pair
    assert dev_variables["SIP_TLS_NAME"] == "sip-edge.local"


def test_an_alarm_fires_when_search_lags_the_accounts_stream(synth: Synth) -> None:
    from infra.application import INDEX_ACCOUNTS

    (alarm,) = [a for a in _alarms(synth) if a.get("MetricName") == "IteratorAge"]
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": INDEX_ACCOUNTS.logical_id}}]
    assert alarm["Statistic"] == "Maximum" and alarm["Threshold"] == 15 * 60 * 1000


def test_edge_scales_between_the_stage_bounds_on_cpu_and_on_open_connections(synth: Synth) -> None:
    from infra.sip_edge import CPU_TARGET_PERCENT, FLOWS_PER_TASK

    for stage, (low, high) in (("dev", (1, 2)), ("prod", (2, 8))):
        (target,) = synth.resources("AWS::ApplicationAutoScaling::ScalableTarget", stage).values()
        assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (low, high)
        assert target["Properties"]["ScalableDimension"] == "ecs:service:DesiredCount"
        policies = [
            p["Properties"] for p in synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy", stage).values()
        ]
        (cpu,) = [p for p in policies if p["PolicyType"] == "TargetTrackingScaling"]
        tracking = cpu["TargetTrackingScalingPolicyConfiguration"]
        assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"
        assert tracking["TargetValue"] == CPU_TARGET_PERCENT
        steps = [p for p in policies if p["PolicyType"] == "StepScaling"]
        assert steps and all(p["StepScalingPolicyConfiguration"]["AdjustmentType"] == "ExactCapacity" for p in steps)
    flows = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm", "prod").values()
             if a["Properties"].get("MetricName") == "ActiveFlowCount"]  # fmt: skip
    assert flows and {a["Namespace"] for a in flows} == {"AWS/NetworkELB"}
    assert all(a["Threshold"] % FLOWS_PER_TASK == 0 for a in flows)


def test_edge_task_is_pinned_to_x86_64_and_checks_kamailio_itself(synth: Synth) -> None:
    for stage in ("dev", "prod"):
        (task,) = synth.resources("AWS::ECS::TaskDefinition", stage).values()
        assert task["Properties"]["RuntimePlatform"] == {"CpuArchitecture": "X86_64", "OperatingSystemFamily": "LINUX"}
        (container,) = task["Properties"]["ContainerDefinitions"]
        command = container["HealthCheck"]["Command"]
        assert (
            command[0] == "CMD-SHELL" and "kamcmd -s unix:/var/lib/sip-edge/run/kamailio.ctl core.uptime" in command[1]
        )
    manifest = json.loads((synth.outdir / "Pgsm-dev.assets.json").read_text())
    (image,) = manifest["dockerImages"].values()
    assert image["source"]["platform"] == "linux/amd64"
    assert "dockerBuildArgs" not in image["source"]  # dev builds on the tag


def test_prod_builds_the_edge_image_on_the_base_pinned_by_digest(synth: Synth) -> None:
    manifest = json.loads((synth.outdir / "Pgsm-prod.assets.json").read_text())
    (image,) = manifest["dockerImages"].values()
    assert image["source"]["dockerBuildArgs"] == {"BASE_IMAGE": f"debian:bookworm-slim@{PROD_BASE_DIGEST}"}
    assert image["source"]["platform"] == "linux/amd64"
