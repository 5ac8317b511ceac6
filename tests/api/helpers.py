"""Calling the API through Chalice's local gateway, and reading its problem documents."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client

from app import API_PREFIX

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
        return self.client.http.request(method, API_PREFIX + path, headers=all_headers, body=payload)

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
