"""Environment variable names, read once into a typed settings object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# Environment variable names (the only place they are spelled out).
ENV_STORAGE = "STORAGE_BACKEND"  # "dynamodb" (default) or "memory"
ENV_DYNAMODB_ENDPOINT = "DYNAMODB_ENDPOINT_URL"  # empty in AWS; moto's URL locally
ENV_AWS_REGION = "AWS_REGION"
ENV_TABLE_PREFIX = "TABLE_PREFIX"
ENV_SESSION_TTL = "SESSION_TTL_SECONDS"
ENV_LOGIN_MAX_FAILURES_USER = "LOGIN_MAX_FAILURES_PER_USER"
ENV_LOGIN_MAX_FAILURES_SOURCE = "LOGIN_MAX_FAILURES_PER_SOURCE"
ENV_LOGIN_WINDOW = "LOGIN_WINDOW_SECONDS"
ENV_MAX_BODY_BYTES = "MAX_BODY_BYTES"
ENV_REFERENCE_CACHE = "REFERENCE_CACHE_SECONDS"


@dataclass(frozen=True)
class Settings:
    storage: str = "dynamodb"
    dynamodb_endpoint: str | None = None
    region: str = "eu-west-1"
    table_prefix: str = "pgsm"
    session_ttl_seconds: int = 12 * 3600
    login_max_failures_per_user: int = 5
    login_max_failures_per_source: int = 20
    login_window_seconds: int = 15 * 60
    max_body_bytes: int = 64 * 1024
    reference_cache_seconds: float = 30.0

    def table_name(self, table: str) -> str:
        return f"{self.table_prefix}-{table}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            storage=env.get(ENV_STORAGE, defaults.storage),
            dynamodb_endpoint=env.get(ENV_DYNAMODB_ENDPOINT) or None,
            region=env.get(ENV_AWS_REGION) or env.get("AWS_DEFAULT_REGION") or defaults.region,
            table_prefix=env.get(ENV_TABLE_PREFIX, defaults.table_prefix),
            session_ttl_seconds=int(env.get(ENV_SESSION_TTL, defaults.session_ttl_seconds)),
            login_max_failures_per_user=int(env.get(ENV_LOGIN_MAX_FAILURES_USER, defaults.login_max_failures_per_user)),
            login_max_failures_per_source=int(
                env.get(ENV_LOGIN_MAX_FAILURES_SOURCE, defaults.login_max_failures_per_source)
            ),
            login_window_seconds=int(env.get(ENV_LOGIN_WINDOW, defaults.login_window_seconds)),
            max_body_bytes=int(env.get(ENV_MAX_BODY_BYTES, defaults.max_body_bytes)),
            reference_cache_seconds=float(env.get(ENV_REFERENCE_CACHE, defaults.reference_cache_seconds)),
        )
