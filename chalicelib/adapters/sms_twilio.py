"""Twilio through its REST API (Messages resource).

The REST call is plain HTTPS with basic auth so that tests can point `TWILIO_API_BASE` at a fake Twilio on
loopback and check the exact request (the twilio SDK would add about 5 MB, with aiohttp, to the Lambda package).
Status callbacks are not checked with Twilio's signature, which needs the account's auth token: the callback URL
carries a per-message capability instead (services/activation.callback_key), so that only the SMS sender
holds Twilio's credentials (docs/decisions.md).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

from chalicelib.domain.errors import ProviderError
from chalicelib.settings import Settings

TIMEOUT_SECONDS = 5


class TwilioSender:
    def __init__(self, settings: Settings) -> None:
        self.base = settings.twilio_api_base
        self.sid = settings.twilio_account_sid
        self._auth = "Basic " + base64.b64encode(f"{self.sid}:{settings.twilio_auth_token}".encode()).decode()
        self.sender = (
            {"MessagingServiceSid": settings.twilio_messaging_service_sid}
            if settings.twilio_messaging_service_sid
            else {"From": settings.twilio_from}
        )

    def send(self, to: str, body: str, status_callback: str) -> str:
        form = urllib.parse.urlencode({"To": to, "Body": body, "StatusCallback": status_callback, **self.sender})
        request = urllib.request.Request(  # noqa: S310 (https in production; the base URL is configuration)
            f"{self.base}/2010-04-01/Accounts/{self.sid}/Messages.json",
            data=form.encode(),
            headers={"Authorization": self._auth, "Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                return str(json.loads(response.read())["sid"])
        except urllib.error.HTTPError as exc:
            raise _provider_error(exc) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ProviderError(f"Twilio could not be reached: {exc}", retryable=True) from exc


def _provider_error(exc: urllib.error.HTTPError) -> ProviderError:
    try:
        detail = json.loads(exc.read() or b"{}")
    except ValueError:
        detail = {}
    code = str(detail.get("code") or "")
    message = str(detail.get("message") or exc.reason)
    retryable = exc.code == 429 or exc.code >= 500
    return ProviderError(f"Twilio answered {exc.code}: {message}", provider_code=code, retryable=retryable)
