"""The accounts table's DynamoDB Stream feeds the search index."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib import bootstrap
from chalicelib.adapters.dynamo import account_from_image
from chalicelib.services import search


def index_account_records(records: Iterable[Any]) -> int:
    """`records` are Chalice DynamoDBRecord objects (old_image / new_image in DynamoDB JSON)."""
    pairs = [(account_from_image(r.old_image), account_from_image(r.new_image)) for r in records]
    return search.index_changes(bootstrap.context(), pairs)
