"""Calling the API through Chalice's local gateway, and reading its problem documents."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from chalice.test import Client
from jsonschema import Draft202012Validator

from app import API_PREFIX
from chalicelib.api.openapi import document

ADMIN = ("admin", "admin-password-1")


class Api:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.token: str | None = None

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None, **headers: str) -> Any:
        all_headers = {"Content-Type": "application/json", **headers}
        if self.token:
            all_headers.setdefault("Authorization", f"Bearer {self.token}")
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        response = self.client.http.request(method, API_PREFIX + path, headers=all_headers, body=payload)
        check_documented(method, path, response)
        return response

    def login(self, username: str, password: str) -> Api:
        response = self.call("POST", "/auth/login", {"username": username, "password": password})
        assert response.status_code == 200, response.body
        self.token = response.json_body["token"]
        return self


def as_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.body
    assert response.headers["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = json.loads(response.body)
    assert body["status"] == status and body["code"] == code, body
    return body


@cache
def _operations() -> list[tuple[re.Pattern[str], dict[str, Any]]]:
    paths: dict[str, Any] = _document()["paths"]
    ordered = sorted(paths.items(), key=lambda item: item[0].count("{"))  # literal segments win: /accounts/export
    return [(re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(p)) + "$"), ops) for p, ops in ordered]


def check_documented(method: str, path: str, response: Any) -> None:
    """Every response the tests see must be one the generated OpenAPI document describes: a documented status,
    content type and, for JSON, a body valid against the operation's schema."""
    bare = path.split("?")[0]
    operations = next((ops for pattern, ops in _operations() if pattern.match(bare)), None)
    if operations is None or method.lower() not in operations:
        return  # an undocumented route: the app answers 404/405 problems, which the routes test covers
    documented = operations[method.lower()]["responses"].get(str(response.status_code))
    assert documented is not None, f"{method} {bare} answered {response.status_code}, which is not documented"
    content = documented.get("content")
    if not content:
        return
    media = (response.headers.get("Content-Type") or "").split(";")[0].strip()
    assert media in content, f"{method} {bare} answered {media}, documented: {sorted(content)}"
    if media.endswith("json"):
        schema = {**content[media]["schema"], "components": _document()["components"]}
        errors = sorted(Draft202012Validator(schema).iter_errors(json.loads(response.body)), key=str)
        assert not errors, f"{method} {bare} {response.status_code}: " + "; ".join(e.message for e in errors[:5])


@cache
def _document() -> dict[str, Any]:
    return document()
