"""The local stand-in for API Gateway: Chalice's local gateway with the gateway responses infra/ deploys.

Chalice's `LocalGateway` answers a path no route has as API Gateway does by default (403 "Missing Authentication
Token"); the deployment replaces API Gateway's own answers with the problem documents of
`chalicelib.api.gateway_answers`, so the local stack applies the same declarations here."""

from __future__ import annotations

from typing import Any

from chalice.local import (
    ChaliceRequestHandler,
    ForbiddenError,
    LocalGateway,
    LocalGatewayException,
    NotAuthorizedError,
)

from chalicelib.api.gateway_answers import BY_TYPE, GatewayAnswer


def _answer_for(exc: LocalGatewayException) -> GatewayAnswer:
    if isinstance(exc, ForbiddenError):  # no route matched (the app has no authorizers that could forbid)
        return BY_TYPE["MISSING_AUTHENTICATION_TOKEN"]
    if isinstance(exc, NotAuthorizedError):
        return BY_TYPE["UNAUTHORIZED"]
    return BY_TYPE["DEFAULT_5XX"]


class ProblemGateway(LocalGateway):
    def handle_request(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
        try:
            return super().handle_request(method, path, headers, body)
        except LocalGatewayException as exc:
            answer = _answer_for(exc)
            https = (headers.get("x-forwarded-proto") or headers.get("X-Forwarded-Proto") or "") == "https"
            answer_headers = {k: v for k, v in answer.headers().items() if https or k != "Strict-Transport-Security"}
            return {
                "statusCode": answer.status,
                "headers": answer_headers,
                "multiValueHeaders": {},
                "body": answer.body(),
            }


class ProblemRequestHandler(ChaliceRequestHandler):
    """Chalice's local HTTP handler on ProblemGateway (LocalDevServer takes it as `handler_cls`)."""

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Any, config: Any) -> None:
        self.local_gateway = ProblemGateway(app_object, config)
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)
