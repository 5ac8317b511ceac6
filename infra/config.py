"""Stage settings read from CDK context (`cdk.json`'s `stages`, overridable with `-c key=value`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STAGES = ("dev", "prod")


@dataclass(frozen=True)
class SearchSize:
    data_nodes: int
    instance_type: str
    volume_gb: int
    master_nodes: int
    master_instance_type: str


@dataclass(frozen=True)
class EdgeSize:
    desired_count: int
    cpu: int
    memory_mib: int


@dataclass(frozen=True)
class StageConfig:
    stage: str
    region: str
    table_prefix: str
    production: bool  # keeps data on destroy, deletion protection, zone awareness
    search: SearchSize
    edge: EdgeSize
    public_base_url: str
    log_retention_days: int
    reports_expiry_days: int
    imports_expiry_days: int
    alarm_email: str
    ses_domain: str
    email_from: str
    sms_rate_per_second: float
    licence_upstream_url: str
    licence_upstream_public_key: str
    sip_default_transports: str


def _int(values: dict[str, Any], key: str) -> int:
    return int(values[key])


def stage_config(stage: str, context: dict[str, Any]) -> StageConfig:
    """`context` is the stage's dict from `stages` merged with top-level overrides (see `cdk_app.py`)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: choose one of {', '.join(STAGES)}")
    search = context["search"]
    edge = context["sip_edge"]
    return StageConfig(
        stage=stage,
        region=str(context.get("region") or "eu-west-1"),
        table_prefix=str(context.get("table_prefix") or f"pgsm-{stage}"),
        production=bool(context.get("production", stage == "prod")),
        search=SearchSize(
            data_nodes=_int(search, "data_nodes"),
            instance_type=str(search["instance_type"]),
            volume_gb=_int(search, "volume_gb"),
            master_nodes=_int(search, "master_nodes"),
            master_instance_type=str(search.get("master_instance_type", "m6g.large.search")),
        ),
        edge=EdgeSize(
            desired_count=_int(edge, "desired_count"), cpu=_int(edge, "cpu"), memory_mib=_int(edge, "memory_mib")
        ),
        public_base_url=str(context.get("public_base_url", "")).rstrip("/"),
        log_retention_days=_int(context, "log_retention_days"),
        reports_expiry_days=_int(context, "reports_expiry_days"),
        imports_expiry_days=_int(context, "imports_expiry_days"),
        alarm_email=str(context.get("alarm_email", "")),
        ses_domain=str(context.get("ses_domain", "")),
        email_from=str(context.get("email_from", "")),
        sms_rate_per_second=float(context.get("sms_rate_per_second", 10)),
        licence_upstream_url=str(context.get("licence_upstream_url", "")),
        licence_upstream_public_key=str(context.get("licence_upstream_public_key", "")),
        sip_default_transports=str(context.get("sip_default_transports", "tls")),
    )
