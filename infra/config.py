"""Stage settings read from CDK context (`cdk.json`'s `stages`, overridable with `-c key=value`)."""

from __future__ import annotations

import re
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
    desired_count: int  # tasks at the first deploy; autoscaling moves between min_count and max_count
    cpu: int
    memory_mib: int
    min_count: int
    max_count: int


@dataclass(frozen=True)
class DomainConfig:
    """`https://<name>` serves the API; `sip_name` (default `sip.<name>`) is the SIP edge's hostname, the name its
    certificate is for. With `hosted_zone_id` the stack makes the ACM certificate (DNS-validated) and the records;
    otherwise `certificate_arn` names an existing ACM certificate for `name` and the DNS records are the
    operator's (the stack outputs their targets)."""

    name: str
    hosted_zone_id: str
    hosted_zone_name: str  # the zone's own name (default: `name`, a zone delegated for the system)
    certificate_arn: str
    sip_name: str

    @property
    def base_url(self) -> str:
        return f"https://{self.name}"


@dataclass(frozen=True)
class StageConfig:
    stage: str
    region: str
    table_prefix: str
    production: bool  # keeps data on destroy, deletion protection, zone awareness
    search: SearchSize
    edge: EdgeSize
    public_base_url: str  # PUBLIC_BASE_URL: https://<domain_name>, or the generated URL in a stage without domain
    domain: DomainConfig | None
    sip_certificate_secret_arn: str
    sip_edge_base_digest: str  # sha256:… of the edge image's base (debian:bookworm-slim), pinned at the first deploy
    log_retention_days: int
    reports_expiry_days: int
    imports_expiry_days: int
    alarm_email: str
    alarm_topic_arn: str  # an existing SNS topic (a team's pager, chat) the alarm topic forwards to
    ses_domain: str
    email_from: str
    sms_rate_per_second: float
    licence_upstream_url: str
    licence_upstream_public_key: str
    sip_default_transports: str
    api_reserved_concurrency: int  # the API function's share of the account's concurrency (and its cap)
    api_gateway_cloudwatch_role: bool  # set API Gateway's account-wide CloudWatch role (infra/api_edge.py)


class ConfigError(ValueError):
    """A stage's configuration that cannot give a working deployment; the message says what to set."""


def _int(values: dict[str, Any], key: str) -> int:
    return int(values[key])


def _text(values: dict[str, Any], key: str) -> str:
    return str(values.get(key) or "").strip()


def domain_config(context: dict[str, Any]) -> DomainConfig | None:
    name = _text(context, "domain_name").rstrip(".").lower()
    zone, certificate = _text(context, "hosted_zone_id"), _text(context, "certificate_arn")
    if not name:
        if zone or certificate:
            raise ConfigError("hosted_zone_id and certificate_arn need domain_name (the API's hostname)")
        return None
    if not zone and not certificate:
        raise ConfigError(
            f"domain_name {name!r} needs hosted_zone_id (the stack makes the certificate and the DNS records) "
            "or certificate_arn (an existing ACM certificate for it in the stack's region)"
        )
    return DomainConfig(
        name=name,
        hosted_zone_id=zone,
        hosted_zone_name=_text(context, "hosted_zone_name").rstrip(".").lower() or name,
        certificate_arn=certificate,
        sip_name=_text(context, "sip_domain_name").rstrip(".").lower() or f"sip.{name}",
    )


def _public_base_url(context: dict[str, Any], domain: DomainConfig | None) -> str:
    given = _text(context, "public_base_url").rstrip("/")
    if domain is None:
        return given
    if given and given != domain.base_url:
        raise ConfigError(f"public_base_url {given!r} contradicts domain_name: links use {domain.base_url}")
    return domain.base_url


DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _digest(context: dict[str, Any]) -> str:
    digest = _text(context, "sip_edge_base_digest").lower()
    if digest and not DIGEST.fullmatch(digest):
        raise ConfigError(f"sip_edge_base_digest {digest!r} is not an image digest (sha256: and 64 hex digits)")
    return digest


def _check_production(stage: str, config: StageConfig) -> None:
    """A production stage serves real phones: they need the API on its own name with a trusted certificate,
    a trusted certificate on the SIP edge, and someone who gets the alarms."""
    missing = []
    if config.domain is None:
        missing.append("domain_name with hosted_zone_id or certificate_arn (links, callbacks and the licence URL)")
    if not config.sip_certificate_secret_arn:
        missing.append("sip_certificate_secret_arn (the SIP edge's TLS certificate chain and key, JSON in a secret)")
    if not config.sip_edge_base_digest:
        missing.append(
            "sip_edge_base_digest (the digest of debian:bookworm-slim the edge image is built on: "
            "docker buildx imagetools inspect debian:bookworm-slim)"
        )
    if not (config.alarm_email or config.alarm_topic_arn):
        missing.append("alarm_email or alarm_topic_arn (who the alarms reach)")
    if missing:
        raise ConfigError(
            f"stage {stage!r} is a production stage and needs, in cdk.json's stages.{stage}: "
            + "; ".join(missing)
            + " (see infra/README.md, First deploy)"
        )


def stage_config(stage: str, context: dict[str, Any]) -> StageConfig:
    """`context` is the stage's dict from `stages` merged with top-level overrides (see `cdk_app.py`)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: choose one of {', '.join(STAGES)}")
    search = context["search"]
    edge = context["sip_edge"]
    domain = domain_config(context)
    config = StageConfig(
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
            desired_count=_int(edge, "desired_count"),
            cpu=_int(edge, "cpu"),
            memory_mib=_int(edge, "memory_mib"),
            min_count=int(edge.get("min_count", edge["desired_count"])),
            max_count=int(edge.get("max_count", edge["desired_count"])),
        ),
        public_base_url=_public_base_url(context, domain),
        domain=domain,
        sip_certificate_secret_arn=_text(context, "sip_certificate_secret_arn"),
        sip_edge_base_digest=_digest(context),
        log_retention_days=_int(context, "log_retention_days"),
        reports_expiry_days=_int(context, "reports_expiry_days"),
        imports_expiry_days=_int(context, "imports_expiry_days"),
        alarm_email=_text(context, "alarm_email"),
        alarm_topic_arn=_text(context, "alarm_topic_arn"),
        ses_domain=str(context.get("ses_domain", "")),
        email_from=str(context.get("email_from", "")),
        sms_rate_per_second=float(context.get("sms_rate_per_second", 10)),
        licence_upstream_url=str(context.get("licence_upstream_url", "")),
        licence_upstream_public_key=str(context.get("licence_upstream_public_key", "")),
        sip_default_transports=str(context.get("sip_default_transports", "tls")),
        api_reserved_concurrency=_int(context, "api_reserved_concurrency"),
        api_gateway_cloudwatch_role=bool(context.get("api_gateway_cloudwatch_role", True)),
    )
    if config.production:
        _check_production(stage, config)
    return config
