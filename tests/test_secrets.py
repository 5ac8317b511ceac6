"""Vendor credentials come from Secrets Manager (moto) when the deployment passes secret ARNs."""

from __future__ import annotations

import json

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.adapters.secrets import with_secrets
from chalicelib.settings import Settings


def test_the_context_reads_twilio_and_licence_credentials_from_secrets_manager(
    moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = boto3.client("secretsmanager", endpoint_url=moto_url, region_name="eu-west-1")
    twilio = client.create_secret(
        Name="t-twilio", SecretString=json.dumps({"account_sid": "AC1", "auth_token": "tok", "from": "+3900"})
    )["ARN"]
    licence = client.create_secret(Name="t-licence", SecretString=json.dumps({"token": "server-token"}))["ARN"]
    env = {"TWILIO_SECRET_ARN": twilio, "LICENCE_UPSTREAM_SECRET_ARN": licence, "SECRETS_ENDPOINT_URL": moto_url,
           "STORAGE_BACKEND": "memory", "SEARCH_BACKEND": "memory", "SMS_PROVIDER": "outbox",
           "AWS_REGION": "eu-west-1"}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bootstrap.use(None)
    try:
        settings = bootstrap.context().settings
    finally:
        bootstrap.use(None)
    assert (settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from) == ("AC1", "tok", "+3900")
    assert settings.licence_upstream_token == "server-token"
    assert "tok" not in repr(settings) and "server-token" not in repr(settings)  # never in logs
    assert with_secrets(Settings()) == Settings()  # nothing to read: no AWS call at all
