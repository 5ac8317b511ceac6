"""page() checks the CSRF token of every console POST before the view runs (only the login form is exempt)."""

from __future__ import annotations

import re

import pytest
from chalice.test import Client

from app import app
from chalicelib.api.http import METHOD_NOT_ALLOWED_VIEW
from chalicelib.console.web import SESSION_COOKIE, csrf_for


def _console_posts() -> list[str]:
    return sorted(
        re.sub(r"\{[^}]+\}", "nope", path)
        for path, entries in app.routes.items()
        if path.startswith("/console")
        and "POST" in entries
        and entries["POST"].view_name != METHOD_NOT_ALLOWED_VIEW
        and path != "/console/login"
    )


def test_there_are_console_posts_to_check() -> None:
    assert len(_console_posts()) >= 15


@pytest.mark.parametrize("path", _console_posts())
def test_a_post_without_the_session_token_is_refused_before_the_view(
    console_session: tuple[Client, str], path: str
) -> None:
    client, token = console_session
    headers = {"Cookie": f"{SESSION_COOKIE}={token}", "Content-Type": "application/x-www-form-urlencoded"}
    refused = client.http.post(path, headers=headers, body=b"csrf_token=" + b"0" * 64)
    assert refused.status_code == 403, (path, refused.status_code)
    good = client.http.post(path, headers=headers, body=f"csrf_token={csrf_for(token)}".encode())
    assert good.status_code != 403, path  # the token passes; the view then answers (404 for the made-up ids)
