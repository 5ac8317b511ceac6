"""The SIP edge (Kamailio, `sip-edge/Dockerfile`) on ECS Fargate behind a Network Load Balancer.

UDP and TCP 5060 share one TCP_UDP listener (an NLB cannot have a UDP and a TCP listener on the same port);
TLS on 5061 is a plain TCP listener, so TLS is passed through and Kamailio terminates it. The tasks run in
public subnets with public addresses (no NAT gateway to pay for), reach DynamoDB through a gateway endpoint,
and their role may read only the four tables the edge reads (docs/sip-events.md) and send to the SIP events
queue."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_servicediscovery as servicediscovery
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import EdgeSize

SIP_PORT = 5060
DMQ_PORT = 5090  # the tasks' internal bus (sip-edge/README.md, Fleet): lockouts, the shared location, relayed calls
FLEET_NAMESPACE = "sip-edge.internal"  # private DNS: `tasks.<namespace>` resolves to every running task
FLEET_SERVICE = "tasks"
SIPS_PORT = 5061
BASE_IMAGE = "debian:bookworm-slim"  # the Dockerfile's default BASE_IMAGE, pinned by digest when the stage gives one
EDGE_TABLES = ("uniques", "accounts", "groups", "profiles")  # what the edge reads, and nothing else
CONTAINER = "kamailio"
CONTROL_SOCKET = "/var/lib/sip-edge/run/kamailio.ctl"  # the image's SIP_RUN_DIR (Dockerfile) + start.sh's name
CPU_TARGET_PERCENT = 60
FLOWS_PER_TASK = 4000  # open TLS connections a task is sized for (a phone keeps one open)
ENV_CERTIFICATE_SECRET = "SIP_TLS_CERTIFICATE_SECRET_ARN"  # noqa: S105 (sip-edge/sipedge/tls_certificate.py)
COMPLETE_SECRET_ARN = re.compile(r":secret:.+-[A-Za-z0-9]{6}$")
# Excluded from the image's build context: local dependency installs and caches (the Dockerfile installs its own).
ASSET_EXCLUDES = [".pydeps", "**/__pycache__", "**/*.pyc", ".pytest_cache"]


class SipEdge(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_dir: Path,
        size: EdgeSize,
        tables: Mapping[str, dynamodb.ITable],
        events_queue: sqs.IQueue,
        environment: Mapping[str, str],
        log_retention: logs.RetentionDays,
        certificate_secret_arn: str = "",
        base_digest: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        if not (source_dir / "Dockerfile").is_file():
            raise FileNotFoundError(f"{source_dir}/Dockerfile is missing: the SIP edge's image is built from it")
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)],
            gateway_endpoints={
                "DynamoDb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
            },
        )
        self.vpc.add_flow_log(
            "FlowLogs",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(self, "FlowLogGroup", retention=log_retention)
            ),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        self.cluster = ecs.Cluster(self, "Cluster", vpc=self.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="SIP edge: reads accounts, uniques, groups, profiles; sends SIP session events",
        )
        self.task_role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:BatchGetItem"],
                resources=[tables[name].table_arn for name in EDGE_TABLES],
            )
        )
        self.task_role.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[events_queue.queue_arn])
        )
        self.certificate_secret = self._certificate_secret(certificate_secret_arn)
        environment = dict(environment)
        # the fleet's DMQ bus: a starting task asks every address of the service's DNS name (Cloud Map, below)
        environment["SIP_DMQ_PEERS"] = f"sip:{FLEET_SERVICE}.{FLEET_NAMESPACE}:{DMQ_PORT}"
        environment["SIP_DMQ_MULTI_NOTIFY"] = "1"
        environment["SIP_DMQ_PORT"] = str(DMQ_PORT)
        if self.certificate_secret is not None:
            # read by the task itself (not injected at start): a new version is loaded while it runs (tls.reload)
            self.certificate_secret.grant_read(self.task_role)
            environment[ENV_CERTIFICATE_SECRET] = self.certificate_secret.secret_arn
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention)
        # One nonce secret for every task: a phone's challenge and its answer may reach different tasks.
        self.auth_secret = secretsmanager.Secret(
            self,
            "NonceSecret",
            description="SIP edge: the secret Kamailio's auth module signs digest nonces with (SIP_AUTH_SECRET)",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=48, exclude_punctuation=True),
        )
        self.task = task = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=size.cpu,
            memory_limit_mib=size.memory_mib,
            task_role=self.task_role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64, operating_system_family=ecs.OperatingSystemFamily.LINUX
            ),
        )
        container = task.add_container(
            CONTAINER,
            image=ecs.ContainerImage.from_asset(
                str(source_dir),
                exclude=ASSET_EXCLUDES,
                platform=ecr_assets.Platform.LINUX_AMD64,
                build_args={"BASE_IMAGE": f"{BASE_IMAGE}@{base_digest}"} if base_digest else None,
            ),
            # the Dockerfile's HEALTHCHECK (ECS does not read it): Kamailio answers on its control socket
            health_check=ecs.HealthCheck(
                command=["CMD-SHELL", f"kamcmd -s unix:{CONTROL_SOCKET} core.uptime >/dev/null || exit 1"],
                interval=cdk.Duration.seconds(15),
                timeout=cdk.Duration.seconds(5),
                retries=3,
                start_period=cdk.Duration.seconds(30),
            ),
            logging=ecs.LogDrivers.aws_logs(stream_prefix="sip-edge", log_group=self.log_group),
            environment=dict(environment),
            secrets={"SIP_AUTH_SECRET": ecs.Secret.from_secrets_manager(self.auth_secret)},
            port_mappings=[
                ecs.PortMapping(container_port=SIP_PORT, protocol=ecs.Protocol.UDP),
                ecs.PortMapping(container_port=SIP_PORT, protocol=ecs.Protocol.TCP),
                ecs.PortMapping(container_port=SIPS_PORT, protocol=ecs.Protocol.TCP),
            ],
        )
        self.security_group = ec2.SecurityGroup(
            self, "TaskSecurityGroup", vpc=self.vpc, description="SIP from phones anywhere", allow_all_outbound=True
        )
        for port in (ec2.Port.udp(SIP_PORT), ec2.Port.tcp(SIP_PORT), ec2.Port.tcp(SIPS_PORT)):
            self.security_group.add_ingress_rule(ec2.Peer.any_ipv4(), port, "SIP clients connect from anywhere")
        # the DMQ bus only between the edge's own tasks (never through the NLB, which has no listener for it)
        self.security_group.add_ingress_rule(self.security_group, ec2.Port.udp(DMQ_PORT), "DMQ between edge tasks")
        self.cluster.add_default_cloud_map_namespace(
            name=FLEET_NAMESPACE, type=servicediscovery.NamespaceType.DNS_PRIVATE, vpc=self.vpc
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=task,
            desired_count=size.desired_count,
            assign_public_ip=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_groups=[self.security_group],
            min_healthy_percent=100,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            # Health: the container's check (Kamailio's control socket) and the NLB's check of each listener's
            # own port; ECS replaces a task that fails either.
            health_check_grace_period=cdk.Duration.seconds(60),
            cloud_map_options=ecs.CloudMapOptions(
                name=FLEET_SERVICE, dns_record_type=servicediscovery.DnsRecordType.A, dns_ttl=cdk.Duration.seconds(10)
            ),
        )
        self.load_balancer = elbv2.NetworkLoadBalancer(
            self, "Nlb", vpc=self.vpc, internet_facing=True, cross_zone_enabled=True
        )
        self.target_groups: dict[str, elbv2.NetworkTargetGroup] = {}
        self._listen(SIP_PORT, elbv2.Protocol.TCP_UDP, container, ecs.Protocol.UDP)
        self._listen(SIPS_PORT, elbv2.Protocol.TCP, container, ecs.Protocol.TCP)
        self.container = container
        self._autoscale(size)

    def _autoscale(self, size: EdgeSize) -> None:
        """Between the stage's min_count and max_count tasks: on CPU (target tracking), and on the phones'
        connections (the NLB's active flows: one task more per FLOWS_PER_TASK, never below min_count)."""
        self.scaling = self.service.auto_scale_task_count(min_capacity=size.min_count, max_capacity=size.max_count)
        self.scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=CPU_TARGET_PERCENT)
        flows = self.load_balancer.metrics.active_flow_count(period=cdk.Duration.minutes(1), statistic="Average")
        steps = [
            appscaling.ScalingInterval(lower=n * FLOWS_PER_TASK, upper=(n + 1) * FLOWS_PER_TASK, change=n + 1)
            for n in range(size.max_count)
        ]
        steps[-1] = appscaling.ScalingInterval(lower=steps[-1].lower, change=size.max_count)
        self.scaling.scale_on_metric(
            "Connections",
            metric=flows,
            scaling_steps=steps,
            adjustment_type=appscaling.AdjustmentType.EXACT_CAPACITY,
            cooldown=cdk.Duration.minutes(5),
        )

    def _certificate_secret(self, arn: str) -> secretsmanager.ISecret | None:
        """The operator's secret with the TLS chain and key (infra/README.md); its full ARN ends in `-` and six
        characters that Secrets Manager adds, a partial one does not (IAM then needs the wildcard suffix)."""
        if not arn:
            return None
        if COMPLETE_SECRET_ARN.search(arn):
            return secretsmanager.Secret.from_secret_complete_arn(self, "CertificateSecret", arn)
        return secretsmanager.Secret.from_secret_partial_arn(self, "CertificateSecret", arn)

    def _listen(
        self, port: int, protocol: elbv2.Protocol, container: ecs.ContainerDefinition, container_protocol: ecs.Protocol
    ) -> None:
        listener = self.load_balancer.add_listener(f"Port{port}", port=port, protocol=protocol)
        self.target_groups[str(port)] = listener.add_targets(
            f"Edge{port}",
            port=port,
            protocol=protocol,
            targets=[
                self.service.load_balancer_target(
                    container_name=container.container_name, container_port=port, protocol=container_protocol
                )
            ],
            # each listener's own port: a task whose TLS port stopped accepting leaves the 5061 group
            health_check=elbv2.HealthCheck(
                protocol=elbv2.Protocol.TCP,
                port=str(port),
                interval=cdk.Duration.seconds(10),
                healthy_threshold_count=2,
                unhealthy_threshold_count=2,
            ),
            deregistration_delay=cdk.Duration.seconds(30),
            # Kamailio must see the phone's address (contact `received`, SNOM Permit/Deny, flood limits).
            preserve_client_ip=True,
        )
