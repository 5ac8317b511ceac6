"""Provisioning e-mails through Amazon SES (v2 API)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import ProviderError

RETRYABLE = {"TooManyRequestsException", "LimitExceededException", "InternalFailure", "ServiceUnavailable"}


class SesSender:
    def __init__(self, sender: str, region: str, client: Any = None) -> None:
        self.sender = sender
        self._client = client or boto3.client("sesv2", region_name=region)

    def send(self, to: str, subject: str, body: str) -> str:
        content = {"Simple": {"Subject": {"Data": subject}, "Body": {"Text": {"Data": body}}}}
        try:
            answer = self._client.send_email(
                FromEmailAddress=self.sender, Destination={"ToAddresses": [to]}, Content=content
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            raise ProviderError(f"SES refused the e-mail: {code}", provider_code=code,
                                retryable=code in RETRYABLE) from exc  # fmt: skip
        except BotoCoreError as exc:
            raise ProviderError(f"SES could not be reached: {exc}", retryable=True) from exc
        return str(answer["MessageId"])
