"""The accounts table's DynamoDB Stream feeds the search index.

The batch goes to the index in one request; if the engine refuses it, the records are tried one by one in
order and the batch is reported from the first one that fails (`batchItemFailures`: Lambda retries from that
record, after the records before it are done). So one document the engine refuses holds back only the records
from it on, for the event source's retry limit, after which it goes to the on-failure queue (infra/README.md,
runbook) and the shard moves on. Indexing is by version, so a record applied twice changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from chalicelib import bootstrap
from chalicelib.adapters.dynamo import account_from_image
from chalicelib.handlers.batch import BatchResponse, response
from chalicelib.services import search
from chalicelib.services.search_port import SearchUnavailable

log = logging.getLogger(__name__)


def index_account_records(records: Iterable[Any]) -> BatchResponse:
    """`records` are Chalice DynamoDBRecord objects (old_image / new_image in DynamoDB JSON)."""
    ctx = bootstrap.context()
    batch = [(r.sequence_number, account_from_image(r.old_image), account_from_image(r.new_image)) for r in records]
    try:
        search.index_changes(ctx, [(old, new) for _, old, new in batch])
        return response([])
    except SearchUnavailable as exc:
        log.warning("the search engine refused a batch of %d records (%s); trying them one by one", len(batch), exc)
    for sequence_number, old, new in batch:
        try:
            search.index_changes(ctx, [(old, new)])
        except SearchUnavailable as exc:
            log.warning("stream record %s not indexed (%s): retried from there", sequence_number, exc)
            return response([sequence_number])
    return response([])
