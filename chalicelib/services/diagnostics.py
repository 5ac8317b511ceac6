"""Health checks the console shows: is the licence service URL that phones are given reachable?

The manual warns that automatically activated clients get stuck when the licence service is not reachable
on the public network. The check calls that URL from the server itself: not proof that the internet can reach
it, but a wrong host, port or certificate shows at once.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

TIMEOUT_SECONDS = 3


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def check_public_url(url: str) -> Check:
    if not url.startswith(("http://", "https://")):
        return Check(False, "PUBLIC_BASE_URL is not an http(s) URL.")
    request = urllib.request.Request(url, method="GET")  # noqa: S310 (scheme checked)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS):  # noqa: S310
            return Check(False, "It answered without asking for credentials: is it really this service?")
    except urllib.error.HTTPError as exc:
        try:
            code = json.loads(exc.read() or b"{}").get("code")
        except ValueError:
            code = None
        if exc.code == 401 and code == "invalid_device_token":
            return Check(True, "It answers: a phone without credentials is asked for them (401), as expected.")
        return Check(False, f"It answered {exc.code}, but not as this licence service would.")
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return Check(False, f"It does not answer from here: {exc}.")
