"""Environment variable names, read once into a typed settings object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

# Environment variable names (the only place they are spelled out).
ENV_STORAGE = "STORAGE_BACKEND"  # "dynamodb" (default) or "memory"
ENV_DYNAMODB_ENDPOINT = "DYNAMODB_ENDPOINT_URL"  # empty in AWS; moto's URL locally
ENV_DYNAMODB_TIMEOUT = "DYNAMODB_TIMEOUT_SECONDS"  # one call's read timeout; botocore retries after it
ENV_DYNAMODB_RETRIES = "DYNAMODB_MAX_RETRIES"
ENV_AWS_REGION = "AWS_REGION"
ENV_TABLE_PREFIX = "TABLE_PREFIX"
ENV_SESSION_TTL = "SESSION_TTL_SECONDS"
ENV_LOGIN_MAX_FAILURES_USER = "LOGIN_MAX_FAILURES_PER_USER"
ENV_LOGIN_MAX_FAILURES_SOURCE = "LOGIN_MAX_FAILURES_PER_SOURCE"
ENV_LOGIN_MAX_FAILURES_USER_MINUTE = "LOGIN_MAX_FAILURES_PER_USER_PER_MINUTE"
ENV_REQUIRE_IF_MATCH = "REQUIRE_IF_MATCH"
ENV_LOGIN_WINDOW = "LOGIN_WINDOW_SECONDS"
ENV_MAX_BODY_BYTES = "MAX_BODY_BYTES"
ENV_REFERENCE_CACHE = "REFERENCE_CACHE_SECONDS"
ENV_SEARCH = "SEARCH_BACKEND"  # "opensearch", "tantivy" (embedded) or "memory"
ENV_SEARCH_INDEX_PATH = "SEARCH_INDEX_PATH"  # tantivy's directory; empty: in memory
ENV_OPENSEARCH_URL = "OPENSEARCH_URL"
ENV_OPENSEARCH_INDEX = "OPENSEARCH_INDEX"
ENV_OPENSEARCH_SIGV4 = "OPENSEARCH_SIGV4"  # "true": sign requests with the function's IAM role (AWS)
ENV_PUBLIC_BASE_URL = "PUBLIC_BASE_URL"  # where phones reach the mobile endpoints (links in SMS)
ENV_LINK_TTL_HOURS = "LINK_TTL_HOURS"
ENV_SMS_PROVIDER = "SMS_PROVIDER"  # "twilio" or "outbox"
ENV_SMS_QUEUE_URL = "SMS_QUEUE_URL"
ENV_EMAIL_PROVIDER = "EMAIL_PROVIDER"  # "ses" or "outbox"
ENV_EMAIL_FROM = "EMAIL_FROM"
ENV_SQS_ENDPOINT = "SQS_ENDPOINT_URL"
ENV_SMS_RATE = "SMS_RATE_PER_SECOND"
ENV_TWILIO_ACCOUNT_SID = "TWILIO_ACCOUNT_SID"
ENV_TWILIO_AUTH_TOKEN = "TWILIO_AUTH_TOKEN"  # noqa: S105 (a variable name, not a secret)
ENV_TWILIO_FROM = "TWILIO_FROM"  # a sender number, or
ENV_TWILIO_MESSAGING_SERVICE = "TWILIO_MESSAGING_SERVICE_SID"
ENV_TWILIO_API_BASE = "TWILIO_API_BASE"
ENV_MOBILE_MAX_PER_SOURCE = "MOBILE_MAX_ATTEMPTS_PER_SOURCE"
ENV_LICENCE_URL = "LICENCE_UPSTREAM_URL"
ENV_LICENCE_TOKEN = "LICENCE_UPSTREAM_TOKEN"  # noqa: S105 (a variable name)
ENV_LICENCE_PUBLIC_KEY = "LICENCE_UPSTREAM_PUBLIC_KEY"
ENV_LICENCE_CACHE = "LICENCE_CACHE_SECONDS"
ENV_LICENCE_AUTH_CACHE = "LICENCE_AUTH_CACHE_SECONDS"
ENV_LICENCE_GRACE = "LICENCE_GRACE_SECONDS"
ENV_LICENCE_TIMEOUT = "LICENCE_UPSTREAM_TIMEOUT_SECONDS"
ENV_TWILIO_SECRET_ARN = "TWILIO_SECRET_ARN"  # noqa: S105 (a variable name; JSON: account_sid, auth_token, ...)
ENV_LICENCE_SECRET_ARN = "LICENCE_UPSTREAM_SECRET_ARN"  # noqa: S105 (a variable name; JSON: token)
# the key of the SMS status callbacks' capability URLs (services/activation.callback_key): given directly, or as
# a secret (JSON: key) that the API and the SMS sender read; never Twilio's auth token
ENV_SMS_CALLBACK_KEY = "SMS_CALLBACK_KEY"
ENV_SMS_CALLBACK_SECRET_ARN = "SMS_CALLBACK_SECRET_ARN"  # noqa: S105 (a variable name)
ENV_SECRETS_ENDPOINT = "SECRETS_ENDPOINT_URL"  # empty in AWS; moto's URL in tests
ENV_IMPORTS_BUCKET = "IMPORTS_BUCKET"  # uploads, the drop folder (imports/<group>/<file>.csv), results
ENV_S3_ENDPOINT = "S3_ENDPOINT_URL"  # empty in AWS; moto's URL locally
ENV_IMPORT_QUEUE_URL = "IMPORT_QUEUE_URL"
ENV_IMPORT_CHUNK_ROWS = "IMPORT_CHUNK_ROWS"
ENV_MAX_UPLOAD_BYTES = "IMPORT_MAX_UPLOAD_BYTES"  # presigned uploads


@dataclass(frozen=True)
class Settings:
    storage: str = "dynamodb"
    dynamodb_endpoint: str | None = None
    dynamodb_timeout_seconds: float = 5.0
    dynamodb_max_retries: int = 3
    region: str = "eu-west-1"
    table_prefix: str = "pgsm"
    session_ttl_seconds: int = 12 * 3600
    login_max_failures_per_user: int = 5
    login_max_failures_per_source: int = 20
    login_max_failures_per_user_per_minute: int = 10
    login_window_seconds: int = 15 * 60
    max_body_bytes: int = 64 * 1024
    require_if_match: bool = False  # PATCH/DELETE without If-Match: 428 instead of last writer wins
    reference_cache_seconds: float = 30.0
    search: str = ""  # empty: "memory" with memory storage, else "opensearch" when a URL is set, else "tantivy"
    search_index_path: str | None = None
    opensearch_url: str | None = None
    opensearch_index: str = "accounts"
    opensearch_sigv4: bool = False
    public_base_url: str = "http://127.0.0.1:8000"
    link_ttl_hours: float = 72.0
    sms_provider: str = "outbox"
    sms_queue_url: str | None = None
    email_provider: str = "outbox"
    email_from: str = "provisioning@example.com"
    sqs_endpoint: str | None = None
    sms_rate_per_second: float = 10.0
    twilio_account_sid: str = ""
    twilio_auth_token: str = field(default="", repr=False)
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_api_base: str = "https://api.twilio.com"
    mobile_max_attempts_per_source: int = 30
    licence_upstream_url: str = ""
    licence_upstream_token: str = field(default="", repr=False)
    licence_upstream_public_key: str = ""
    licence_cache_seconds: int = 3600
    licence_auth_cache_seconds: float = 5.0  # services/recent_devices.py
    licence_grace_seconds: int = 3 * 86400
    licence_upstream_timeout: float = 2.0
    twilio_secret_arn: str = ""
    licence_secret_arn: str = ""
    sms_callback_key: str = field(default="", repr=False)  # empty: every status callback is refused
    sms_callback_secret_arn: str = ""
    secrets_endpoint: str | None = None
    imports_bucket: str = ""  # empty: files kept in memory (memory storage only)
    s3_endpoint: str | None = None
    import_queue_url: str | None = None
    import_chunk_rows: int = 1000
    max_upload_bytes: int = 200 * 1024 * 1024

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
            dynamodb_timeout_seconds=float(env.get(ENV_DYNAMODB_TIMEOUT, defaults.dynamodb_timeout_seconds)),
            dynamodb_max_retries=int(env.get(ENV_DYNAMODB_RETRIES, defaults.dynamodb_max_retries)),
            region=env.get(ENV_AWS_REGION) or env.get("AWS_DEFAULT_REGION") or defaults.region,
            table_prefix=env.get(ENV_TABLE_PREFIX, defaults.table_prefix),
            session_ttl_seconds=int(env.get(ENV_SESSION_TTL, defaults.session_ttl_seconds)),
            login_max_failures_per_user=int(env.get(ENV_LOGIN_MAX_FAILURES_USER, defaults.login_max_failures_per_user)),
            login_max_failures_per_source=int(
                env.get(ENV_LOGIN_MAX_FAILURES_SOURCE, defaults.login_max_failures_per_source)
            ),
            login_max_failures_per_user_per_minute=int(
                env.get(ENV_LOGIN_MAX_FAILURES_USER_MINUTE, defaults.login_max_failures_per_user_per_minute)
            ),
            login_window_seconds=int(env.get(ENV_LOGIN_WINDOW, defaults.login_window_seconds)),
            max_body_bytes=int(env.get(ENV_MAX_BODY_BYTES, defaults.max_body_bytes)),
            require_if_match=env.get(ENV_REQUIRE_IF_MATCH, "").strip().lower() in ("1", "true", "yes"),
            reference_cache_seconds=float(env.get(ENV_REFERENCE_CACHE, defaults.reference_cache_seconds)),
            search=env.get(ENV_SEARCH, ""),
            search_index_path=env.get(ENV_SEARCH_INDEX_PATH) or None,
            opensearch_url=env.get(ENV_OPENSEARCH_URL) or None,
            opensearch_index=env.get(ENV_OPENSEARCH_INDEX, defaults.opensearch_index),
            opensearch_sigv4=env.get(ENV_OPENSEARCH_SIGV4, "").strip().lower() in ("1", "true", "yes"),
            public_base_url=env.get(ENV_PUBLIC_BASE_URL, defaults.public_base_url).rstrip("/"),
            link_ttl_hours=float(env.get(ENV_LINK_TTL_HOURS, defaults.link_ttl_hours)),
            sms_provider=env.get(ENV_SMS_PROVIDER, defaults.sms_provider),
            sms_queue_url=env.get(ENV_SMS_QUEUE_URL) or None,
            email_provider=env.get(ENV_EMAIL_PROVIDER, defaults.email_provider),
            email_from=env.get(ENV_EMAIL_FROM, defaults.email_from),
            sqs_endpoint=env.get(ENV_SQS_ENDPOINT) or None,
            sms_rate_per_second=float(env.get(ENV_SMS_RATE, defaults.sms_rate_per_second)),
            twilio_account_sid=env.get(ENV_TWILIO_ACCOUNT_SID, ""),
            twilio_auth_token=env.get(ENV_TWILIO_AUTH_TOKEN, ""),
            twilio_from=env.get(ENV_TWILIO_FROM, ""),
            twilio_messaging_service_sid=env.get(ENV_TWILIO_MESSAGING_SERVICE, ""),
            twilio_api_base=env.get(ENV_TWILIO_API_BASE, defaults.twilio_api_base).rstrip("/"),
            licence_upstream_url=env.get(ENV_LICENCE_URL, "").rstrip("/"),
            licence_upstream_token=env.get(ENV_LICENCE_TOKEN, ""),
            licence_upstream_public_key=env.get(ENV_LICENCE_PUBLIC_KEY, ""),
            licence_cache_seconds=int(env.get(ENV_LICENCE_CACHE, defaults.licence_cache_seconds)),
            licence_auth_cache_seconds=float(env.get(ENV_LICENCE_AUTH_CACHE, defaults.licence_auth_cache_seconds)),
            licence_grace_seconds=int(env.get(ENV_LICENCE_GRACE, defaults.licence_grace_seconds)),
            licence_upstream_timeout=float(env.get(ENV_LICENCE_TIMEOUT, defaults.licence_upstream_timeout)),
            twilio_secret_arn=env.get(ENV_TWILIO_SECRET_ARN, ""),
            licence_secret_arn=env.get(ENV_LICENCE_SECRET_ARN, ""),
            sms_callback_key=env.get(ENV_SMS_CALLBACK_KEY, ""),
            sms_callback_secret_arn=env.get(ENV_SMS_CALLBACK_SECRET_ARN, ""),
            secrets_endpoint=env.get(ENV_SECRETS_ENDPOINT) or None,
            imports_bucket=env.get(ENV_IMPORTS_BUCKET, ""),
            s3_endpoint=env.get(ENV_S3_ENDPOINT) or None,
            import_queue_url=env.get(ENV_IMPORT_QUEUE_URL) or None,
            import_chunk_rows=int(env.get(ENV_IMPORT_CHUNK_ROWS, defaults.import_chunk_rows)),
            max_upload_bytes=int(env.get(ENV_MAX_UPLOAD_BYTES, defaults.max_upload_bytes)),
            mobile_max_attempts_per_source=int(
                env.get(ENV_MOBILE_MAX_PER_SOURCE, defaults.mobile_max_attempts_per_source)
            ),
        )
