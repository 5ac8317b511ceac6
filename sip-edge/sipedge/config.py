"""Settings of the edge, read once per process from the environment (the start script exports them)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

TRANSPORTS = ("udp", "tcp", "tls")

ENV_TABLE_PREFIX = "TABLE_PREFIX"
ENV_REGION = "AWS_REGION"
ENV_DYNAMODB_ENDPOINT = "DYNAMODB_ENDPOINT_URL"
ENV_SQS_ENDPOINT = "SQS_ENDPOINT_URL"
ENV_QUEUE_URL = "SIP_EVENTS_QUEUE_URL"
ENV_DEFAULT_TRANSPORTS = "SIP_DEFAULT_TRANSPORTS"
ENV_EDGE_ID = "SIP_EDGE_ID"
ENV_CACHE_SECONDS = "SIP_ACCOUNT_CACHE_SECONDS"
ENV_KEEPALIVE_SECONDS = "SIP_KEEPALIVE_SECONDS"
ENV_KEEPALIVE_TIMEOUT = "SIP_KEEPALIVE_TIMEOUT_SECONDS"
ENV_RECHECK_SECONDS = "SIP_RECHECK_SECONDS"
ENV_BACKEND_TIMEOUT = "SIP_BACKEND_TIMEOUT_SECONDS"
ENV_DIRECTORY = "SIP_DIRECTORY"
ENV_MAX_EXPIRES = "SIP_MAX_EXPIRES"
ENV_MIN_EXPIRES = "SIP_MIN_EXPIRES"
ENV_DEFAULT_EXPIRES = "SIP_DEFAULT_EXPIRES"
ENV_SIDECAR_SOCKET = "SIP_SIDECAR_SOCKET"
ENV_LOCKOUT_FAILURES = "SIP_LOCKOUT_FAILURES"
ENV_LOCKOUT_SECONDS = "SIP_LOCKOUT_SECONDS"
ENV_FLOOD_LIMIT = "SIP_FLOOD_LIMIT"
ENV_FLOOD_WINDOW = "SIP_FLOOD_WINDOW_SECONDS"
ENV_DMQ_PORT = "SIP_DMQ_PORT"
ENV_DMQ_ADDRESS = "SIP_DMQ_ADDRESS"
ENV_CONNECTIONS_PER_SOURCE = "SIP_MAX_CONNECTIONS_PER_SOURCE"
ENV_MEDIA_RELAY = "SIP_MEDIA_RELAY"
MEDIA_RELAYS = ("rtpengine", "none")
ENV_ANNOUNCEMENTS = "SIP_ANNOUNCEMENTS_DIR"

MAX_CACHE_SECONDS = 30.0  # the contract: a disabled account stops registering within 30 s


class ConfigError(ValueError):
    """A setting the edge cannot start with."""


@dataclass(frozen=True)
class EdgeConfig:
    table_prefix: str = "pgsm"
    region: str = "eu-west-1"
    dynamodb_endpoint: str | None = None
    sqs_endpoint: str | None = None
    queue_url: str | None = None
    default_transports: tuple[str, ...] = ("tls",)
    edge_id: str = "edge"
    cache_seconds: float = 15.0
    keepalive_seconds: float = 180.0
    keepalive_timeout_seconds: float = 10.0
    recheck_seconds: float = 20.0
    backend_timeout_seconds: float = 1.0
    # "dynamodb" (the control plane's tables) or "static:<path>" (a JSON credential table; the benchmark baseline)
    directory: str = "dynamodb"
    min_expires: int = 60
    max_expires: int = 3600
    default_expires: int = 3600
    sidecar_socket: str = ""
    lockout_failures: int = 10
    lockout_seconds: int = 900
    flood_limit: int = 60
    flood_window_seconds: int = 10
    dmq_port: int = 5090  # the fleet's internal DMQ socket (KDMQ requests on any other port are refused)
    dmq_address: str = "127.0.0.1"  # its address: other tasks reach this one's phones through it (sipedge/fleet.py)
    connections_per_source: int = 500  # TCP/TLS connections one address may hold (a NAT of phones needs many)
    media_relay: str = "rtpengine"  # or "none": calls' SDP untouched (the call benchmark's baseline)
    announcements_dir: str = ""  # the rendered announcements (<language>-<message>.wav); empty: none played

    @property
    def internal_hop(self) -> str:
        """host:port of this task's internal socket (the DMQ bus, and calls relayed between tasks)."""
        return f"{self.dmq_address}:{self.dmq_port}"

    def table(self, name: str) -> str:
        return f"{self.table_prefix}-{name}"


def parse_transports(text: str) -> tuple[str, ...]:
    names = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in TRANSPORTS]
    if unknown or not names:
        raise ConfigError(f"{ENV_DEFAULT_TRANSPORTS} must list some of udp, tcp, tls (got {text!r})")
    return names


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number (got {raw!r})") from exc
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


def from_env(env: Mapping[str, str] | None = None) -> EdgeConfig:
    env = os.environ if env is None else env
    cache_seconds = _number(env, ENV_CACHE_SECONDS, 15.0)
    if cache_seconds > MAX_CACHE_SECONDS:
        raise ConfigError(f"{ENV_CACHE_SECONDS} must be at most {MAX_CACHE_SECONDS:g}")
    return EdgeConfig(
        table_prefix=env.get(ENV_TABLE_PREFIX) or "pgsm",
        region=env.get(ENV_REGION) or env.get("AWS_DEFAULT_REGION") or "eu-west-1",
        dynamodb_endpoint=env.get(ENV_DYNAMODB_ENDPOINT) or None,
        sqs_endpoint=env.get(ENV_SQS_ENDPOINT) or None,
        queue_url=env.get(ENV_QUEUE_URL) or None,
        default_transports=parse_transports(env.get(ENV_DEFAULT_TRANSPORTS) or "tls"),
        edge_id=env.get(ENV_EDGE_ID) or "edge",
        cache_seconds=cache_seconds,
        keepalive_seconds=_number(env, ENV_KEEPALIVE_SECONDS, 180.0),
        keepalive_timeout_seconds=_number(env, ENV_KEEPALIVE_TIMEOUT, 10.0),
        recheck_seconds=_number(env, ENV_RECHECK_SECONDS, 20.0),
        backend_timeout_seconds=_number(env, ENV_BACKEND_TIMEOUT, 1.0),
        directory=env.get(ENV_DIRECTORY) or "dynamodb",
        min_expires=int(_number(env, ENV_MIN_EXPIRES, 60)),
        max_expires=int(_number(env, ENV_MAX_EXPIRES, 3600)),
        default_expires=int(_number(env, ENV_DEFAULT_EXPIRES, 3600)),
        sidecar_socket=env.get(ENV_SIDECAR_SOCKET) or "",
        lockout_failures=max(int(_number(env, ENV_LOCKOUT_FAILURES, 10)), 1),
        lockout_seconds=int(_number(env, ENV_LOCKOUT_SECONDS, 900)),
        flood_limit=max(int(_number(env, ENV_FLOOD_LIMIT, 60)), 1),
        flood_window_seconds=max(int(_number(env, ENV_FLOOD_WINDOW, 10)), 1),
        dmq_port=int(_number(env, ENV_DMQ_PORT, 5090)),
        dmq_address=env.get(ENV_DMQ_ADDRESS) or "127.0.0.1",
        connections_per_source=max(int(_number(env, ENV_CONNECTIONS_PER_SOURCE, 500)), 1),
        media_relay=_choice(env, ENV_MEDIA_RELAY, MEDIA_RELAYS),
        announcements_dir=env.get(ENV_ANNOUNCEMENTS) or "",
    )


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = (env.get(name) or allowed[0]).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
    return value
