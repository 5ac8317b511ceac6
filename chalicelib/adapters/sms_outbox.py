"""The embedded SMS provider: nothing leaves the machine. Texts stay in the message store (the console's
Outbox page lists them) and, in the local stack, are printed so a developer can follow the links.
This is the only place a link is ever printed, and it runs only where SMS_PROVIDER=outbox."""

from __future__ import annotations

import itertools
import sys
from typing import TextIO


class OutboxSender:
    def __init__(self, echo: TextIO | None = None) -> None:
        self._ids = itertools.count(1)
        self._echo = echo
        self.sent: list[tuple[str, str, str]] = []

    def send(self, to: str, body: str, status_callback: str) -> str:
        provider_id = f"outbox-{next(self._ids)}"
        self.sent.append((to, body, status_callback))
        if self._echo is not None:
            print(f"[outbox] SMS to {to}: {body}", file=self._echo, flush=True)
        return provider_id


def stdout_outbox() -> OutboxSender:
    return OutboxSender(echo=sys.stdout)


class EmailOutbox:
    """The embedded e-mail provider, like the SMS outbox: kept in the message store, printed locally."""

    def __init__(self, echo: TextIO | None = None) -> None:
        self._ids = itertools.count(1)
        self._echo = echo
        self.sent: list[tuple[str, str, str]] = []

    def send(self, to: str, subject: str, body: str) -> str:
        self.sent.append((to, subject, body))
        if self._echo is not None:
            print(f"[outbox] e-mail to {to}: {subject}: {body}", file=self._echo, flush=True)
        return f"outbox-mail-{next(self._ids)}"


def stdout_email_outbox() -> EmailOutbox:
    return EmailOutbox(echo=sys.stdout)
