"""What the API gateway answers by itself, before the app runs, as problem documents like the app's own.

API Gateway answers some requests without calling the function: a path no route has (`MISSING_AUTHENTICATION_TOKEN`,
a 403 "Missing Authentication Token" by default), its throttling, the WAF, a body over its limit, a function that
timed out or failed. Declared once here, these answers become the REST API's gateway responses in infra/
(`x-amazon-apigateway-gateway-responses`) and the local gateway's answers in devstack/, so that a client meets the
same problem+json document locally and in AWS. (A method a path does not take does reach the app: every path
takes every method, the others answer 405 with `Allow`, see `api.http.refuse_other_methods`.)

The bodies are static: API Gateway does not run templates of gateway responses through VTL."""

from __future__ import annotations

import json
from dataclasses import dataclass

from chalicelib.api import security_headers

PROBLEM_TYPE = "application/problem+json"


@dataclass(frozen=True)
class GatewayAnswer:
    response_type: str  # API Gateway's gateway response type
    status: int
    code: str
    title: str
    detail: str
    retry_after: int | None = None

    def body(self) -> str:
        doc = {"type": "about:blank", "title": self.title, "status": self.status, "code": self.code}
        return json.dumps({**doc, "detail": self.detail})

    def headers(self) -> dict[str, str]:
        out = {
            "Content-Type": PROBLEM_TYPE,
            **security_headers.ALWAYS,
            "Strict-Transport-Security": security_headers.HSTS,  # API Gateway is HTTPS only
        }
        if self.retry_after is not None:
            out["Retry-After"] = str(self.retry_after)
        return out


_BUSY = "The service is busy or a part of it is unavailable: try again shortly."
ANSWERS = (
    GatewayAnswer("MISSING_AUTHENTICATION_TOKEN", 404, "not_found", "Not found", "Nothing is served at this path."),
    GatewayAnswer("RESOURCE_NOT_FOUND", 404, "not_found", "Not found", "Nothing is served at this path."),
    GatewayAnswer("UNAUTHORIZED", 401, "unauthorized", "Not logged in", "Log in first."),
    GatewayAnswer("ACCESS_DENIED", 403, "forbidden", "Not allowed", "The request is not allowed."),
    GatewayAnswer("WAF_FILTERED", 403, "forbidden", "Not allowed", "The request was refused by the firewall."),
    GatewayAnswer("REQUEST_TOO_LARGE", 413, "too_large", "Body too large", "The request body is too large."),
    GatewayAnswer("UNSUPPORTED_MEDIA_TYPE", 415, "unsupported_media_type", "Unsupported type", "Unsupported body."),
    GatewayAnswer("BAD_REQUEST_BODY", 400, "bad_request", "Malformed request", "The request body is malformed."),
    GatewayAnswer("BAD_REQUEST_PARAMETERS", 400, "bad_request", "Malformed request", "A parameter is malformed."),
    GatewayAnswer("THROTTLED", 429, "rate_limited", "Rate limited", "Too many requests: slow down.", 1),
    GatewayAnswer("QUOTA_EXCEEDED", 429, "rate_limited", "Rate limited", "Too many requests: slow down.", 60),
    GatewayAnswer("INTEGRATION_TIMEOUT", 503, "unavailable", "Unavailable", _BUSY, 5),
    GatewayAnswer("INTEGRATION_FAILURE", 503, "unavailable", "Unavailable", _BUSY, 5),
    # anything else API Gateway itself refuses or fails at (its own types not listed above)
    GatewayAnswer("DEFAULT_4XX", 400, "bad_request", "Refused", "The request was refused before it reached the API."),
    GatewayAnswer("DEFAULT_5XX", 503, "unavailable", "Unavailable", _BUSY, 5),
)
BY_TYPE = {answer.response_type: answer for answer in ANSWERS}


def gateway_responses() -> dict[str, dict[str, object]]:
    """The REST API's `x-amazon-apigateway-gateway-responses` (header values are quoted static values)."""
    return {
        a.response_type: {
            "statusCode": str(a.status),
            "responseParameters": {f"gatewayresponse.header.{k}": f"'{v}'" for k, v in a.headers().items()},
            "responseTemplates": {"application/json": a.body()},
        }
        for a in ANSWERS
    }
