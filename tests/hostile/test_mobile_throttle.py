"""The phones' throttle: failures only, the real time left, the licence service too."""

from __future__ import annotations

from tests.api.helpers import Api, as_problem
from tests.conftest import World
from tests.test_activation import Clock, OutboxSender, mobile, sent_link, setup, wizard_account

__all__ = ["setup"]
Setup = tuple[World, Api, Clock, OutboxSender]


def test_a_real_activation_after_guessing_still_works(setup: Setup) -> None:
    world, api, _, outbox = setup
    account = wizard_account(world, api)
    for i in range(24):
        as_problem(mobile(api, "POST", "/m/activation", {"token": f"guess{i:020d}"}), 404, "invalid_link")
    token = sent_link(world, api, outbox, f"/accounts/{account['id']}/activation-sms")
    assert mobile(api, "POST", "/m/activation", {"token": token}).status_code == 200
    # the good link gave its unit back: one more guess fits, the next is refused
    as_problem(mobile(api, "POST", "/m/activation", {"token": "guess" + "x" * 20}), 404, "invalid_link")
    limited = mobile(api, "POST", "/m/activation", {"token": "guess" + "y" * 20})
    as_problem(limited, 429, "rate_limited")


def test_retry_after_is_the_time_left_in_the_window(setup: Setup) -> None:
    world, api, clock, _ = setup
    for i in range(25):
        mobile(api, "GET", f"/m/i/guess{i:020d}")
    limited = mobile(api, "GET", "/m/i/" + "z" * 25)  # a person's browser: the page says so in words
    assert limited.status_code == 429 and limited.headers["Content-Type"].startswith("text/html")
    assert b"Too many attempts" in limited.body
    expected = 600 - int(clock.now.timestamp()) % 600
    assert abs(int(limited.headers["Retry-After"]) - expected) <= 1


def test_the_licence_service_is_throttled_on_failed_credentials(setup: Setup) -> None:
    _, api, _, _ = setup
    codes = [mobile(api, "GET", "/m/licence", Authorization=f"Bearer forged{i:020d}").status_code for i in range(27)]
    assert codes[:25] == [401] * 25
    assert set(codes[25:]) == {429}
