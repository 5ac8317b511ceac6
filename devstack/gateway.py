"""The local stand-in for API Gateway: Chalice's local gateway with the gateway responses infra/ deploys.

Chalice's `LocalGateway` answers a path no route has as API Gateway does by default (403 "Missing Authentication
Token"); the deployment replaces API Gateway's own answers with the problem documents of
`chalicelib.api.gateway_answers`, so the local stack applies the same declarations here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from chalice.local import (
    ChaliceRequestHandler,
    ForbiddenError,
    LocalGateway,
    LocalGatewayException,
    NotAuthorizedError,
    RouteMatcher,
)

from chalicelib.api import security_headers
from chalicelib.api.gateway_answers import BY_TYPE, GatewayAnswer
from chalicelib.api.http import ALL_METHODS, METHOD_NOT_ALLOWED_VIEW, method_not_allowed


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
            answer_headers = answer.headers() if https else _local(answer.headers())
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
        self._app = app_object
        self._routes = RouteMatcher(list(app_object.routes))
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)

    def __getattr__(self, name: str) -> Callable[[], None]:
        """A method no route can have (TRACE, CONNECT, made-up ones): 405 with the path's methods, where Python's
        HTTP server would answer its own HTML 501."""
        if not name.startswith("do_"):
            raise AttributeError(name)
        return self._not_allowed

    def _not_allowed(self) -> None:
        self._parse_payload()  # read the body, or the connection's next request would start inside it
        try:
            route = self._routes.match_route(urlparse(str(self.path)).path).route
        except ValueError:
            answer = BY_TYPE["MISSING_AUTHENTICATION_TOKEN"]
            self._send_http_response(answer.status, _local(answer.headers()), answer.body())
            return
        entries = self._app.routes[route]
        allowed = ", ".join(m for m in ALL_METHODS if m in entries and entries[m].view_name != METHOD_NOT_ALLOWED_VIEW)
        refusal = method_not_allowed(str(self.command), allowed)
        self._send_http_response(405, {**refusal.headers, **security_headers.ALWAYS}, refusal.body)


def _local(headers: dict[str, str]) -> dict[str, str]:
    """Plain HTTP locally: no HSTS (browsers ignore it there)."""
    return {k: v for k, v in headers.items() if k != "Strict-Transport-Security"}
