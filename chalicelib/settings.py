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
ENV_SEARCH = "SEARCH_BACKEND"  # "opensearch", "tantivy" (embedded) or "memory"
ENV_SEARCH_INDEX_PATH = "SEARCH_INDEX_PATH"  # tantivy's directory; empty: in memory
ENV_OPENSEARCH_URL = "OPENSEARCH_URL"
ENV_OPENSEARCH_INDEX = "OPENSEARCH_INDEX"


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
    search: str = ""  # empty: "memory" with memory storage, else "opensearch" when a URL is set, else "tantivy"
    search_index_path: str | None = None
    opensearch_url: str | None = None
    opensearch_index: str = "accounts"

    @property
    def search_backend(self) -> str:
        if self.search:
            return self.search
        if self.storage == "memory":
            return "memory"
        return "opensearch" if self.opensearch_url else "tantivy"

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
            search=env.get(ENV_SEARCH, ""),
            search_index_path=env.get(ENV_SEARCH_INDEX_PATH) or None,
            opensearch_url=env.get(ENV_OPENSEARCH_URL) or None,
            opensearch_index=env.get(ENV_OPENSEARCH_INDEX, defaults.opensearch_index),
        )
