"""Account search use cases: search, the stream feed and the rebuild."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from chalicelib.domain.errors import Forbidden, InvalidCursor
from chalicelib.domain.model import Account, Operator, Page, iso
from chalicelib.domain.search import parse_query
from chalicelib.services.context import Context
from chalicelib.services.search_port import IndexChange, SearchDocument


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
    ctx: Context, actor: Operator, group_id: str, text: str, limit: int, cursor: str | None
) -> Page[SearchDocument]:
    if not actor.can_read_group(group_id):
        raise Forbidden("You may not see accounts of this group.")
    query = parse_query(text)
    try:
        return ctx.search.search(group_id, query, limit, cursor)
    except ValueError as exc:
        raise InvalidCursor() from exc


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
