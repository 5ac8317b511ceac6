"""Failure limits (logins, the phones' links): atomic counters in fixed windows that count failures only.

An attempt first takes one unit of every limit that applies (a conditional update each: concurrent attempts can
never pass a limit together); an attempt that succeeds gives its units back, so only failures stay counted and
legitimate use never uses a limit up. The answer when a limit applies is 429 with the real time left in its window.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import RateLimited
from chalicelib.services.context import Context


@dataclass(frozen=True)
class Limit:
    key: str
    window_seconds: int
    max_failures: int
    message: str  # what the refusal says; the time left is added


def seconds_left(window_seconds: int, now: datetime) -> int:
    """Seconds until the current fixed window ends (at least 1): what Retry-After says."""
    return max(1, window_seconds - int(now.timestamp()) % window_seconds)


def _spoken(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{round(seconds / 60)} minutes"


def _take(ctx: Context, limits: Sequence[Limit], now: datetime) -> None:
    taken: list[Limit] = []
    for limit in limits:
        if not ctx.sessions.take(limit.key, limit.window_seconds, now, limit.max_failures):
            _give_back(ctx, taken, now)
            left = seconds_left(limit.window_seconds, now)
            raise RateLimited(f"{limit.message} Try again in {_spoken(left)}.", retry_after=left)
        taken.append(limit)


def _give_back(ctx: Context, limits: Sequence[Limit], now: datetime) -> None:
    for limit in limits:
        ctx.sessions.give_back(limit.key, limit.window_seconds, now)


@contextmanager
def counting_failures(ctx: Context, limits: Sequence[Limit], failures: tuple[type[Exception], ...]) -> Iterator[None]:
    """Run the block within `limits` (RateLimited when one is used up); the block's units stay counted only when it
    raises one of `failures`."""
    now = ctx.clock()
    _take(ctx, limits, now)
    try:
        yield
    except failures:
        raise
    except BaseException:
        _give_back(ctx, limits, now)
        raise
    _give_back(ctx, limits, now)


MOBILE_WINDOW_SECONDS = 600


def mobile(ctx: Context, source: str) -> list[Limit]:
    """The phones' side (links, the licence service): failed credentials per source address."""
    message = "Too many attempts from this address."
    return [Limit(f"mobile:{source}", MOBILE_WINDOW_SECONDS, ctx.settings.mobile_max_attempts_per_source, message)]
