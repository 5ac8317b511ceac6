"""Issue #14 item 18: unknown paths and methods a path does not take answer problem+json, locally and in AWS.

A method a path lacks reaches the app (every path takes every method) and answers 405 with `Allow`; a path no
route has is answered by the gateway: locally by devstack's gateway, in AWS by the gateway responses infra/
deploys, both from chalicelib/api/gateway_answers.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from chalice.config import Config
from chalice.test import Client

from app import app
from chalicelib import bootstrap
from chalicelib.api.gateway_answers import ANSWERS, BY_TYPE, gateway_responses
from chalicelib.api.http import ALL_METHODS, served_routes
from devstack.gateway import ProblemGateway
from tests.conftest import World, make_context


@pytest.fixture
def client() -> Iterator[Client]:
    ctx = make_context("memory", None)
    bootstrap.use(ctx)
    World(ctx)
    with Client(app) as test_client:
        yield test_client
    bootstrap.use(None)


def _paths() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path, method in served_routes(app):
        out.setdefault(path, set()).add(method)
    return out


def test_every_path_answers_every_method_it_lacks_with_405_and_allow(client: Client) -> None:
    paths = _paths()
    assert len(paths) > 40
    for path, methods in paths.items():
        concrete = re.sub(r"\{[^}]+\}", "x1", path)
        for method in sorted(set(ALL_METHODS) - methods):
            answer = client.http.request(method, concrete, headers={"Authorization": "Bearer nope"}, body=b"")
            assert answer.status_code == 405, (method, path, answer.status_code)
            assert answer.headers["Content-Type"] == "application/problem+json"
            assert set(answer.headers["Allow"].split(", ")) == methods, (method, path)
            assert answer.headers["Cache-Control"] == "no-store"
            if method != "HEAD":
                body = json.loads(answer.body)
                assert (body["status"], body["code"]) == (405, "method_not_allowed")
                assert method in body["detail"]


def test_a_served_method_still_reaches_its_view(client: Client) -> None:
    assert client.http.get("/api/v1/auth/me").status_code == 401  # the view's own answer, not a 405
    assert client.http.get("/api/v1/openapi.json").status_code == 200


@pytest.mark.parametrize("path", ["/nothing", "/api/v1/nothing", "/api/v1/accounts/a/b/c", "/console/x/y/z/w"])
def test_a_path_no_route_has_is_a_404_problem_at_the_gateway(path: str) -> None:
    gateway = ProblemGateway(app, Config.create(chalice_stage="local"))
    for headers in ({}, {"authorization": "Bearer x"}):
        answer = gateway.handle_request(method="GET", path=path, headers=headers, body=b"")
        assert answer["statusCode"] == 404
        assert answer["headers"]["Content-Type"] == "application/problem+json"
        body = json.loads(answer["body"])
        assert (body["status"], body["code"]) == (404, "not_found")
        assert "Strict-Transport-Security" not in answer["headers"]  # plain HTTP locally


def test_the_gateway_answers_are_whole_problem_documents() -> None:
    for answer in ANSWERS:
        body = json.loads(answer.body())
        assert body["status"] == answer.status and body["code"] and body["title"] and body["detail"]
        assert (answer.status == 503 or answer.status == 429) == (answer.retry_after is not None), answer
        assert answer.status != 500  # an outage is a 503 with Retry-After
    assert BY_TYPE["MISSING_AUTHENTICATION_TOKEN"].status == 404


def test_the_deployed_gateway_responses_are_the_same_declarations() -> None:
    responses = gateway_responses()
    assert set(responses) == set(BY_TYPE)
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["statusCode"] == "404"
    assert missing["responseParameters"]["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    assert json.loads(missing["responseTemplates"]["application/json"])["code"] == "not_found"
    throttled = responses["THROTTLED"]["responseParameters"]
    assert throttled["gatewayresponse.header.Retry-After"] == "'1'"
