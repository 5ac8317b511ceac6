"""Two places where moto costs what the real services do not, for the local stack and the tests.

- A Query on a table's own key reads that partition, not the whole table. moto answers every Query by sorting
  all the table's items and then keeping those of the asked partition, so a query by key costs as much as a
  scan (a registrations table of 2,000 contacts: tens of milliseconds per `for_account`, one per SIP event;
  the local stack serves one request at a time, so every other request waits too). Here, during a Query
  without an index, the table's `all_items` yields the asked partition's items; moto's own code then sorts,
  pages and filters them as before, so answers are unchanged (the storage contract tests run against it).
  Index queries are left as moto does them.
- Sending to an SQS queue no longer counts the queue. moto's send reads the queue's `attributes` (for the FIFO
  setting ContentBasedDeduplication) and that property counts the visible, delayed and in-flight messages,
  three passes over the queue per message sent: a batch of 10 took 50 ms with 1,000 messages queued and 650 ms
  with 6,000, so a SIP edge's events (one per REGISTER) saturated moto within seconds and every DynamoDB read
  of the edges waited behind them (bench/sip_register.py). While a send runs, `attributes` holds only the FIFO
  settings it reads; GetQueueAttributes still counts.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.sqs.models import Queue, SQSBackend

_state = threading.local()
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _partition_queries()
    _uncounted_sends()
    _installed = True


def _partition_queries() -> None:
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


def _uncounted_sends() -> None:
    counted = Queue.attributes.fget  # type: ignore[attr-defined]

    def attributes(self: Queue) -> dict[str, Any]:
        if not getattr(_state, "sending", False):
            return counted(self)  # type: ignore[no-any-return]
        if not self.fifo_queue:
            return {}
        value = getattr(self, "content_based_deduplication", None)  # (set from the queue's attributes)
        return {"ContentBasedDeduplication": str(value).lower() if isinstance(value, bool) else value}

    def uncounted(send: Any) -> Any:
        def sending(*args: Any, **kwargs: Any) -> Any:
            before = getattr(_state, "sending", False)
            _state.sending = True
            try:
                return send(*args, **kwargs)
            finally:
                _state.sending = before

        return sending

    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
    SQSBackend.send_message = uncounted(SQSBackend.send_message)  # type: ignore[method-assign]
    SQSBackend.send_message_batch = uncounted(SQSBackend.send_message_batch)  # type: ignore[method-assign]
