"""Account search use cases: search, the stream feed and the rebuild."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from chalicelib.domain.errors import FieldError, Forbidden, InvalidCursor, ValidationFailed
from chalicelib.domain.model import Account, AccountStatus, AccountType, Operator, Page, iso
from chalicelib.domain.search import parse_query
from chalicelib.services.context import Context
from chalicelib.services.search_port import BY_USERNAME, SORTS, IndexChange, Listing, SearchDocument


def document_of(account: Account) -> SearchDocument:
    return SearchDocument(
        id=account.id,
        group_id=account.group_id,
        version=account.version,
        username=account.username,
        full_name=account.full_name,
        phone_number=account.phone_number,
        secondary_phone_number=account.secondary_phone_number,
        email=account.email,
        description=account.description,
        account_type=account.account_type.value,
        enabled=account.enabled,
        status=account.status.value,
        status_changed_at=iso(account.status_changed_at) or "",
        sms_problem=account.sms_problem,
    )


def changes_from_stream(records: Iterable[tuple[Account | None, Account | None]]) -> list[IndexChange]:
    """Stream records as (old image, new image) pairs into index changes."""
    changes: list[IndexChange] = []
    for old, new in records:
        if new is not None:
            changes.append(IndexChange(new.id, new.version, document_of(new)))
        elif old is not None:
            changes.append(IndexChange(old.id, old.version, None))
    return changes


def index_changes(ctx: Context, records: Iterable[tuple[Account | None, Account | None]]) -> int:
    """Feed the index from the accounts table's stream. Raises SearchUnavailable so that the stream redelivers
    the batch later (the index catches up when the engine is back)."""
    changes = changes_from_stream(records)
    ctx.search.apply(changes)
    return len(changes)


def search_accounts(
    ctx: Context,
    actor: Operator,
    group_id: str,
    text: str,
    limit: int,
    cursor: str | None,
    listing: Listing = BY_USERNAME,
) -> Page[SearchDocument]:
    """The group's accounts matching the search (all for an empty one), filtered, sorted, with their total."""
    if not actor.can_read_group(group_id):
        raise Forbidden("You may not see accounts of this group.")
    query = parse_query(text)
    try:
        return ctx.search.search(group_id, query, limit, cursor, listing)
    except ValueError as exc:
        raise InvalidCursor() from exc


_YES_NO = {"": None, "yes": True, "no": False}


def listing_from(params: Mapping[str, str]) -> Listing:
    """The account list's order and filters from its query parameters (sort, dir, status, enabled, type, sms);
    every refusal at once."""
    errors: list[FieldError] = []

    def choice(name: str, allowed: Iterable[str]) -> str:
        value = params.get(name, "")
        if value and value not in allowed:
            errors.append(FieldError(name, "invalid_choice", f"'{name}' must be one of: {', '.join(allowed)}."))
            return ""
        return value

    sort = choice("sort", SORTS) or "username"
    direction = choice("dir", ("asc", "desc"))
    status = choice("status", [s.value for s in AccountStatus])
    enabled = choice("enabled", ("yes", "no"))
    account_type = choice("type", [t.value for t in AccountType])
    sms = choice("sms", ("yes", "no"))
    if errors:
        raise ValidationFailed(errors)
    return Listing(sort, direction == "desc", status, _YES_NO[enabled], account_type, _YES_NO[sms])


def rebuild(ctx: Context, batch: int = 500) -> int:
    """Re-index every account of every group from the table into a new index, served once complete (after an
    analysis or mapping change, or a lost index). Returns the number of accounts indexed."""
    counted: list[int] = []

    def batches() -> Iterator[list[IndexChange]]:
        count = 0
        for accounts in _table(ctx, batch):
            count += len(accounts)
            yield [IndexChange(a.id, a.version, document_of(a)) for a in accounts]
        counted.append(count)

    ctx.search.rebuild(batches)
    return counted[0] if counted else 0


def _table(ctx: Context, batch: int) -> Iterator[list[Account]]:
    group_cursor: str | None = None
    while True:
        groups = ctx.groups.list(100, group_cursor)
        for group in groups.items:
            cursor: str | None = None
            while True:
                page = ctx.accounts.list_by_group(group.id, batch, cursor)
                yield page.items
                cursor = page.next_cursor
                if not cursor:
                    break
        group_cursor = groups.next_cursor
        if not group_cursor:
            return
