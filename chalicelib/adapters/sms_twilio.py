"""Twilio through its REST API (Messages resource), and the validation of its status callbacks.

The REST call is plain HTTPS with basic auth so that tests can point `TWILIO_API_BASE` at a fake Twilio on
loopback and check the exact request. Callback signatures are checked here too (Twilio's documented
algorithm, a few lines): the twilio SDK would add about 5 MB (with aiohttp) to the Lambda package for this one
function. The tests sign with the SDK's own RequestValidator, so the two cannot drift apart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

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


def signature_of(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Base64 HMAC-SHA1 of the URL followed by every form field's name and value, sorted by name."""
    text = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), text.encode(), hashlib.sha1).digest()).decode()


def _url_forms(url: str) -> list[str]:
    """The URL as given, with and without the scheme's default port (Twilio may sign either form)."""
    parts = urllib.parse.urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    with_port = parts._replace(netloc=f"{host}:{parts.port or default}").geturl() if default else url
    without_port = parts._replace(netloc=host).geturl() if parts.port in (None, default) else url
    return list(dict.fromkeys([url, with_port, without_port]))


def valid_callback(auth_token: str, url: str, params: Mapping[str, str], signature: str) -> bool:
    """X-Twilio-Signature check of a status callback."""
    if not signature or not auth_token:
        return False
    return any(hmac.compare_digest(signature_of(auth_token, form, params), signature) for form in _url_forms(url))
