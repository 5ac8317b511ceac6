"""Bulk actions on selected accounts (console and `POST /api/v1/accounts/bulk`): one call per action, and an
outcome per account (done, skipped because..., failed because...), each account through the use case that owns
its rules, with the permissions of that use case."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain import resources
from chalicelib.domain.errors import Conflict, DomainError
from chalicelib.domain.model import Account, Operator
from chalicelib.domain.provisioning import Purpose
from chalicelib.domain.resources import BulkAction, BulkOutcome
from chalicelib.services import accounts, activation, audit
from chalicelib.services.context import Context


@dataclass(frozen=True)
class Item:
    account_id: str
    username: str
    outcome: BulkOutcome
    code: str = ""
    message: str = ""


@dataclass(frozen=True)
class BulkResult:
    action: BulkAction
    results: list[Item]
    accounts: list[Account]  # export: the accounts exported

    def count(self, outcome: BulkOutcome) -> int:
        return sum(1 for item in self.results if item.outcome is outcome)


class Skipped(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _enable(ctx: Context, actor: Operator, account: Account) -> None:
    if account.enabled:
        raise Skipped("already_enabled", "The account is enabled already.")
    accounts.set_enabled(ctx, actor, account.id, True)


def _disable(ctx: Context, actor: Operator, account: Account) -> None:
    if not account.enabled:
        raise Skipped("already_disabled", "The account is disabled already.")
    accounts.set_enabled(ctx, actor, account.id, False)


def _sender(purpose: Purpose) -> Callable[[Context, Operator, Account], None]:
    def send(ctx: Context, actor: Operator, account: Account) -> None:
        activation.send_link(ctx, actor, account.id, purpose)

    return send


def _export(ctx: Context, actor: Operator, account: Account) -> None:
    """Nothing changes: the account is read, with the permissions of a read."""


def _delete(ctx: Context, actor: Operator, account: Account) -> None:
    accounts.delete_account(ctx, actor, account.id)


RUN: dict[BulkAction, Callable[[Context, Operator, Account], None]] = {
    BulkAction.ENABLE: _enable,
    BulkAction.DISABLE: _disable,
    BulkAction.SEND_INSTALLATION_SMS: _sender(Purpose.INSTALL),
    BulkAction.SEND_ACTIVATION_SMS: _sender(Purpose.ACTIVATE),
    BulkAction.EXPORT: _export,
    BulkAction.DELETE: _delete,
}


def run(ctx: Context, actor: Operator, data: Mapping[str, Any]) -> BulkResult:
    """Do the action to each account (repeated ids once, in the given order). A state that makes the action
    pointless or impossible (already enabled, no international number, activation pending) is a skip; a
    refusal (not found, not allowed) or an outage is a failure of that account alone."""
    values = resources.BULK_INPUT.read(data)
    action = BulkAction(values["action"])
    results: list[Item] = []
    exported: list[Account] = []
    for account_id in dict.fromkeys(values["ids"]):
        username = ""
        try:
            account = accounts.get_account(ctx, actor, account_id)
            username = account.username
            RUN[action](ctx, actor, account)
        except Skipped as skip:
            results.append(Item(account_id, username, BulkOutcome.SKIPPED, skip.code, skip.message))
            continue
        except Conflict as exc:
            results.append(Item(account_id, username, BulkOutcome.SKIPPED, exc.code, exc.message))
            continue
        except DomainError as exc:
            results.append(Item(account_id, username, BulkOutcome.FAILED, exc.code, exc.message))
            continue
        if action is BulkAction.EXPORT:
            exported.append(account)
        results.append(Item(account_id, username, BulkOutcome.DONE))
    result = BulkResult(action, results, exported)
    counts = {outcome.value: str(result.count(outcome)) for outcome in BulkOutcome}
    audit.record(
        ctx, actor.username, f"account.bulk.{action.value}", "accounts", "", {**counts, "accounts": str(len(results))}
    )
    return result
