"""moto's Query on a table's own key reads that partition, not the whole table.

moto answers every Query by sorting all the table's items and then keeping those of the asked partition, so a
query by key costs as much as a scan (a registrations table of 2,000 contacts: tens of milliseconds per
`for_account`, one per SIP event; the local stack serves one request at a time, so every other request waits
too). Real DynamoDB reads the partition only. Here, during a Query without an index, the table's `all_items`
yields the asked partition's items; moto's own code then sorts, pages and filters them as before, so answers
are unchanged (the storage contract tests run against it). Index queries are left as moto does them.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

_state = threading.local()
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    query, all_items = Table.query, Table.all_items
    signature = inspect.signature(query)

    def partition_query(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
        if signature.bind(self, hash_key, *args, **kwargs).arguments.get("index_name") or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        _state.partition = (self, hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _state.partition = None

    def partition_items(self: Table) -> list[Item]:
        asked = getattr(_state, "partition", None)
        if asked is None or asked[0] is not self:
            return all_items(self)
        found = self.items.get(asked[1])  # (a defaultdict: get() adds no empty partition)
        if found is None:
            return []
        return list(found.values()) if self.range_key_attr else [found]  # type: ignore[list-item]

    Table.query = partition_query  # type: ignore[method-assign]
    Table.all_items = partition_items  # type: ignore[method-assign]
    _installed = True
