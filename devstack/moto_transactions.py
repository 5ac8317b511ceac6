"""A rollback journal for moto's TransactWriteItems, replacing its whole-table copies.

moto makes a transaction atomic by deep-copying every table the transaction touches before applying it,
and putting the copies back on failure. The cost grows with the table (and its stream records), so a
table of a few thousand items makes each transaction tens of milliseconds slower, which real DynamoDB is
not. This journal keeps moto's own transaction code and semantics, but during the call a table's deep copy
is the table itself, and the rollback restores just the touched items (and drops the stream records the
failed transaction added). It relies on requests being served one at a time (see moto_server.py).
The storage contract tests (failed transactions leave nothing behind) run against it.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

_state = threading.local()
_installed = False


def _table_deepcopy(self: Table, memo: dict[int, Any]) -> Table:
    if getattr(_state, "journaling", False):
        return self  # the journal, not a copy, undoes a failed transaction
    clone = copy.copy(self)  # a shallow copy, then its state deep-copied: what deepcopy does by default
    memo[id(self)] = clone
    for name, value in self.__dict__.items():
        setattr(clone, name, copy.deepcopy(value, memo))
    return clone


def _key_of(table: Table, op_type: str, op: dict[str, Any]) -> tuple[DynamoType, DynamoType | None]:
    attrs = op["Item"] if op_type == "Put" else op["Key"]
    hash_value = DynamoType(attrs[table.hash_key_attr])
    range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _restore(table: Table, hash_value: DynamoType, range_value: DynamoType | None, previous: Any) -> None:
    if range_value is not None:
        bucket = table.items[hash_value]
        if previous is None:
            bucket.pop(range_value, None)
        else:
            bucket[range_value] = previous
    elif previous is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = previous


def install() -> None:
    global _installed
    if _installed:
        return
    original = DynamoDBBackend.transact_write_items

    def journaled(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        journal: list[tuple[Table, DynamoType, DynamoType | None, Any]] = []
        streams: dict[int, tuple[Any, int]] = {}
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName", ""))
            if table is None or op_type == "ConditionCheck":
                continue
            try:
                hash_value, range_value = _key_of(table, op_type, op)
            except KeyError:
                continue  # malformed: moto's own validation reports it
            previous = table.get_item(hash_value, range_value) if range_value or not table.range_key_attr else None
            journal.append((table, hash_value, range_value, copy.deepcopy(previous)))
            if table.stream_shard is not None:
                streams.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
        _state.journaling = True
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, previous in reversed(journal):
                _restore(table, hash_value, range_value, previous)
            for shard, length in streams.values():
                del shard.items[length:]
            raise
        finally:
            _state.journaling = False

    DynamoDBBackend.transact_write_items = journaled  # type: ignore[method-assign]
    Table.__deepcopy__ = _table_deepcopy  # type: ignore[attr-defined]
    _installed = True
