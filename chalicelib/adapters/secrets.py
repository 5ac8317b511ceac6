"""Vendor credentials from AWS Secrets Manager (boto3), read once when the process builds its context.

The deployment passes secret ARNs, never the secrets: `TWILIO_SECRET_ARN` holds JSON with `account_sid`,
`auth_token` and `messaging_service_sid` or `from` (only the SMS sender reads it); `LICENCE_UPSTREAM_SECRET_ARN`
holds JSON with `token`; `SMS_CALLBACK_SECRET_ARN` JSON with `key` (the status callbacks' capability key).
Values set directly in the environment (the local stack, tests) are used as they are.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import boto3

from chalicelib.settings import Settings


def _read(client: Any, arn: str) -> dict[str, str]:
    value = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
    if not isinstance(value, dict):
        raise ValueError(f"the secret {arn} must be a JSON object")
    return {str(k): str(v) for k, v in value.items()}


def with_secrets(settings: Settings) -> Settings:
    if not (settings.twilio_secret_arn or settings.licence_secret_arn or settings.sms_callback_secret_arn):
        return settings
    client = boto3.client("secretsmanager", region_name=settings.region, endpoint_url=settings.secrets_endpoint)
    changes: dict[str, Any] = {}
    if settings.twilio_secret_arn:
        twilio = _read(client, settings.twilio_secret_arn)
        changes.update(
            twilio_account_sid=twilio.get("account_sid", ""),
            twilio_auth_token=twilio.get("auth_token", ""),
            twilio_messaging_service_sid=twilio.get("messaging_service_sid", ""),
            twilio_from=twilio.get("from", ""),
        )
    if settings.licence_secret_arn:
        changes["licence_upstream_token"] = _read(client, settings.licence_secret_arn).get("token", "")
    if settings.sms_callback_secret_arn:
        changes["sms_callback_key"] = _read(client, settings.sms_callback_secret_arn).get("key", "")
    return replace(settings, **changes)
