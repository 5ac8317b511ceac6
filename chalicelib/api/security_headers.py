"""Headers every answer of the API, the console and the phones' pages carries."""

from __future__ import annotations

from chalice.app import Request, Response

HSTS = "max-age=31536000; includeSubDomains"
# what every answer carries unless its route said otherwise (the gateway's own answers too: api/gateway_answers.py)
ALWAYS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}


def secured(response: Response, request: Request) -> Response:
    """Never framed, never cached (login tokens, accounts and licences are in these bodies) unless the route said
    otherwise, and HSTS when the request came over HTTPS (API Gateway and load balancers say so in
    X-Forwarded-Proto; plain HTTP locally gets none, as browsers would ignore it there anyway)."""
    headers = response.headers
    for name, value in ALWAYS.items():
        headers.setdefault(name, value)
    if (request.headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower() == "https":
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response
