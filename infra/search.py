"""The OpenSearch domain behind account search: encrypted at rest and between nodes, HTTPS only (TLS 1.2),
fine-grained access control whose master user is a role of its own (`SearchAdminRole`, for the operator who
maps the functions' roles inside OpenSearch: infra/README.md, First deploy; no function has it), and a domain
policy that lets in the indexer's role (writes), the API's role (reads) and the admin role, nothing else.
Sized by the stage's context."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from constructs import Construct

from infra.config import SearchSize

SEARCH_HTTP_ACTIONS = tuple(f"es:ESHttp{verb}" for verb in ("Get", "Head", "Post", "Put", "Delete", "Patch"))
SEARCH_READ_ACTIONS = ("es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost")  # searches are POST _search


class SearchDomain(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain_name: str,
        size: SearchSize,
        writers: list[iam.IRole],
        readers: list[iam.IRole],
        production: bool,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.admin_role = iam.Role(
            self,
            "SearchAdminRole",
            assumed_by=iam.AccountRootPrincipal(),  # whoever in the account IAM allows to assume it
            description="OpenSearch master user: maps the functions' roles to OpenSearch roles (no function has it)",
        )
        removal = cdk.RemovalPolicy.RETAIN if production else cdk.RemovalPolicy.DESTROY
        log_groups = {
            kind: logs.LogGroup(self, f"{kind}Logs", retention=log_retention, removal_policy=removal)
            for kind in ("App", "SlowSearch", "SlowIndex")
        }
        zone_awareness = size.data_nodes > 1
        self.domain = opensearch.Domain(
            self,
            "Domain",
            domain_name=domain_name,
            version=opensearch.EngineVersion.OPENSEARCH_2_19,
            capacity=opensearch.CapacityConfig(
                data_nodes=size.data_nodes,
                data_node_instance_type=size.instance_type,
                master_nodes=size.master_nodes or None,
                master_node_instance_type=size.master_instance_type if size.master_nodes else None,
                multi_az_with_standby_enabled=False,
            ),
            ebs=opensearch.EbsOptions(volume_size=size.volume_gb, volume_type=cdk.aws_ec2.EbsDeviceVolumeType.GP3),
            zone_awareness=opensearch.ZoneAwarenessConfig(enabled=zone_awareness, availability_zone_count=2)
            if zone_awareness
            else None,
            encryption_at_rest=opensearch.EncryptionAtRestOptions(enabled=True),
            node_to_node_encryption=True,
            enforce_https=True,
            tls_security_policy=opensearch.TLSSecurityPolicy.TLS_1_2,
            fine_grained_access_control=opensearch.AdvancedSecurityOptions(master_user_arn=self.admin_role.role_arn),
            logging=opensearch.LoggingOptions(
                app_log_enabled=True,
                app_log_group=log_groups["App"],
                slow_search_log_enabled=True,
                slow_search_log_group=log_groups["SlowSearch"],
                slow_index_log_enabled=True,
                slow_index_log_group=log_groups["SlowIndex"],
            ),
            # The log delivery policy below and the access policy are plain CloudFormation properties instead of
            # the construct's custom-resource Lambdas (less to deploy, nothing with broad IAM rights).
            suppress_logs_resource_policy=True,
            removal_policy=removal,
        )
        logs.ResourcePolicy(
            self,
            "LogDelivery",
            policy_statements=[
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("es.amazonaws.com")],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[group.log_group_arn for group in log_groups.values()],
                )
            ],
        )
        cfn_domain = self.domain.node.default_child
        assert isinstance(cfn_domain, opensearch.CfnDomain)
        # Built from the name: the domain's own ARN attribute here would be a circular reference.
        paths = cdk.Stack.of(self).format_arn(service="es", resource="domain", resource_name=f"{domain_name}/*")
        admitted = [([*writers, self.admin_role], SEARCH_HTTP_ACTIONS), (readers, SEARCH_READ_ACTIONS)]
        cfn_domain.access_policies = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": [role.role_arn for role in roles]},
                    "Action": list(actions),
                    "Resource": paths,
                }
                for roles, actions in admitted
                if roles
            ],
        }
        self.writers, self.readers = writers, readers
        self.url = cdk.Fn.join("", ["https://", self.domain.domain_endpoint])
