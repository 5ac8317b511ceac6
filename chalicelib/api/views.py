"""JSON shapes of the API resources: each is the rendering of its declaration in domain/resources.py.
Secrets (digests, password hashes) never leave through here: write-only and undeclared fields are not rendered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.domain import resources
from chalicelib.domain.model import Page

account_json = resources.ACCOUNT.render
row_json = resources.ACCOUNT_ROW.render  # a search hit: the account list's columns
message_json = resources.MESSAGE.render
group_json = resources.GROUP.render
profile_json = resources.PROFILE.render
operator_json = resources.OPERATOR.render
event_json = resources.EVENT.render
history_json = resources.HISTORY.render
login_json = resources.LOGIN_ATTEMPT.render
registration_json = resources.REGISTRATION.render
bulk_json = resources.BULK_RESULT.render
audit_json = resources.AUDIT_EVENT.render


def page_json(page: Page[Any], render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    return {"items": [render(item) for item in page.items], "next_cursor": page.next_cursor}
