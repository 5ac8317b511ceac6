"""Crafted list parameters on the console's lists: an unknown column, filter value or a cursor we never handed
out is said in plain words on the page (never a 500, never a stack trace), and what was typed comes back
escaped."""

from __future__ import annotations

import pytest
from chalice.test import Client

from chalicelib.console.web import SESSION_COOKIE

LISTS = ("registrations", "imports", "outbox", "operators", "audit")


def _get(console_session: tuple[Client, str], path: str) -> tuple[int, str]:
    client, token = console_session
    answer = client.http.get(f"/console/{path}", headers={"Cookie": f"{SESSION_COOKIE}={token}"})
    return answer.status_code, answer.body.decode()


@pytest.mark.parametrize("crafted", ["sort=password_hash", "dir=sideways"])
@pytest.mark.parametrize("path", LISTS)
def test_an_unknown_column_or_direction_is_said_on_the_page(
    console_session: tuple[Client, str], path: str, crafted: str
) -> None:
    status, body = _get(console_session, f"{path}?{crafted}")
    assert status == 200 and 'role="alert"' in body and "must be one of" in body and "Traceback" not in body


@pytest.mark.parametrize("path", LISTS)
def test_a_cursor_we_never_handed_out_is_refused_in_words(console_session: tuple[Client, str], path: str) -> None:
    status, body = _get(console_session, f"{path}?cursor=eyJrIjoxfQ&trail=-")
    assert status == 200 and 'role="alert"' in body and "cursor is not valid" in body


def test_typed_filters_come_back_escaped(console_session: tuple[Client, str]) -> None:
    status, body = _get(console_session, "registrations?edge=%3Cscript%3Ealert(1)%3C/script%3E&username=%22%3E%3Cb%3E")
    assert status == 200 and "<script>alert(1)" not in body and "&lt;script&gt;" in body and '"><b>' not in body
