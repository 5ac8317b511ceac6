"""The vendor's licence server over HTTPS (our small protocol, docs/licence-upstream.md), tight timeouts."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from chalicelib.domain.errors import UpstreamUnavailable


class HttpLicenceUpstream:
    def __init__(self, base_url: str, token: str, timeout: float) -> None:
        self.url = f"{base_url}/v1/licences/validate"
        self._token = token
        self.timeout = timeout

    def validate(self, account: str, nonce: str) -> object:
        if not self.url.startswith(("http://", "https://")):
            raise UpstreamUnavailable("No licence server is configured (LICENCE_UPSTREAM_URL).")
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
            self.url,
            data=json.dumps({"account": account, "nonce": nonce}).encode(),
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read(65536))
        except urllib.error.HTTPError as exc:
            raise UpstreamUnavailable(f"the licence server answered {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise UpstreamUnavailable(f"the licence server cannot be reached ({exc})") from exc
        except ValueError as exc:
            raise UpstreamUnavailable("the licence server answered something that is not JSON") from exc
