"""Headers every answer of the API, the console and the phones' pages carries."""

from __future__ import annotations

from chalice.app import Request, Response

HSTS = "max-age=31536000; includeSubDomains"


def secured(response: Response, request: Request) -> Response:
    """Never framed, never cached (login tokens, accounts and licences are in these bodies) unless the route said
    otherwise, and HSTS when the request came over HTTPS (API Gateway and load balancers say so in
    X-Forwarded-Proto; plain HTTP locally gets none, as browsers would ignore it there anyway)."""
    headers = response.headers
    headers.setdefault("Cache-Control", "no-store")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if (request.headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower() == "https":
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response
