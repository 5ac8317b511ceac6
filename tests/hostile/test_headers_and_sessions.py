"""Security headers on API, console and phone answers; changing your own password keeps your session."""

from __future__ import annotations

from tests.api.helpers import ADMIN, Api
from tests.conftest import World


def test_api_answers_are_never_cached_or_framed(anonymous: Api, http_world: World) -> None:
    login = anonymous.call("POST", "/auth/login", {"username": ADMIN[0], "password": ADMIN[1]})
    for response in (login, anonymous.call("GET", "/groups")):
        assert response.headers.get("Cache-Control") == "no-store", response.headers
        assert response.headers.get("X-Frame-Options") == "DENY"
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP


def test_hsts_when_the_request_came_over_https(anonymous: Api, http_world: World) -> None:
    response = anonymous.call(
        "POST", "/auth/login", {"username": "x", "password": "y"}, **{"X-Forwarded-Proto": "https"}
    )
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    page = anonymous.client.http.get("/console/login", headers={"X-Forwarded-Proto": "https"})
    assert page.headers["X-Frame-Options"] == "DENY" and "Strict-Transport-Security" in page.headers
    mobile = anonymous.client.http.get("/m/i/" + "x" * 22, headers={"X-Forwarded-Proto": "https"})
    assert mobile.headers["X-Frame-Options"] == "DENY" and "Strict-Transport-Security" in mobile.headers


def test_changing_your_own_password_keeps_this_session_and_ends_the_others(api: Api, http_world: World) -> None:
    other = Api(api.client).login(*ADMIN)
    changed = api.call("PATCH", f"/operators/{http_world.admin.id}", {"password": "a-new-admin-password"})
    assert changed.status_code == 200, changed.body
    assert api.call("GET", "/auth/me").status_code == 200  # this session goes on
    assert other.call("GET", "/auth/me").status_code == 401  # the other login is over
    assert Api(api.client).login(ADMIN[0], "a-new-admin-password").call("GET", "/auth/me").status_code == 200
