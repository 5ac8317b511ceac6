"""Batch import rate through the whole pipeline vs. raw BatchWriteItem, on the same moto server, same run.

    python -m bench.imports [--rows 100000] [--chunk-rows 1000]

A generated file of N rows (the manual's columns, unique numbers) is uploaded to the import bucket and run
through the pipeline exactly as the queue's consumer runs it: validation (batched lookups, staging in chunks),
then one step per chunk (accounts created with their guards, group counter and timeline entries, in batched
transactions), then the result file. The raw baseline writes the same number of account-sized items with plain
BatchWriteItem (25 per call) into a table of the same endpoint. Prints rows/s, raw items/s, their ratio (goal:
at least 20%: each row costs several writes) and the peak resident memory of this process (moto runs apart)
after a run of a tenth of the rows and after the full run, to show it does not grow with the file.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3

from bench import arguments
from bench.create_accounts import _start_moto
from bench.setup import bench_world
from chalicelib.adapters.dynamo import _account_to_model
from chalicelib.adapters.dynamo_models import AccountModel
from chalicelib.domain.import_job import ImportJob
from chalicelib.services import imports
from chalicelib.settings import Settings
from devstack.events import create_import_resources

GOAL = 0.20
FIGURE = r"^pipeline: \d+ rows in [\d.]+ s = [\d.]+ rows/s"
BASELINE = r"^raw BatchWriteItem: \d+ items in [\d.]+ s = [\d.]+ items/s"
HEADER = "fullName,gsmNumber,email,securityModel,description\n"


def generated(rows: int) -> Iterator[bytes]:
    yield HEADER.encode()
    for n in range(rows):
        line = f"Person {n},+39347{n:07d},p{n}@example.com,{'end-to-end' if n % 2 else 'end-to-site'},staff\n"
        yield line.encode()


def run_pipeline(settings: Settings, rows: int, chunk_rows: int) -> tuple[float, ImportJob, int]:
    ctx, admin, group = bench_world(replace(settings, table_prefix=f"b{uuid.uuid4().hex[:8]}"))
    ctx.settings = replace(ctx.settings, import_chunk_rows=chunk_rows)
    sqs: Any = boto3.client("sqs", endpoint_url=settings.sqs_endpoint, region_name=settings.region)
    upload_id = uuid.uuid4().hex
    ctx.files.write(f"{imports.UPLOAD_PREFIX}{upload_id}.csv", generated(rows))  # as a presigned upload leaves it
    started = time.perf_counter()
    job = imports.submit_uploaded(ctx, admin, group.id, upload_id, "bench.csv", imports.DEFAULT_OPTIONS)
    while True:
        got = sqs.receive_message(QueueUrl=settings.import_queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            break
        imports.process(ctx, json.loads(messages[0]["Body"]))
        sqs.delete_message(QueueUrl=settings.import_queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the process's peak so far, in bytes
    final = ctx.imports.get(job.id)
    assert final is not None and final.status == "completed" and final.created == rows, final
    # (moto answers a GSI query by sorting the whole table: read two accounts by id instead)
    assert ctx.accounts.get(imports.account_id_for(final, 2)) is not None
    assert ctx.accounts.get(imports.account_id_for(final, rows + 1)) is not None
    return elapsed, final, peak


def run_raw(endpoint: str, region: str, items: int) -> float:
    client: Any = boto3.client("dynamodb", endpoint_url=endpoint, region_name=region)
    table = f"raw-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )  # fmt: skip
    sample = _sample_item()
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for _ in range(items):
        batch.append({"PutRequest": {"Item": {**sample, "id": {"S": str(uuid.uuid4())}}}})
        if len(batch) == 25:
            client.batch_write_item(RequestItems={table: batch})
            batch = []
    if batch:
        client.batch_write_item(RequestItems={table: batch})
    return time.perf_counter() - started


def _sample_item() -> dict[str, Any]:
    from datetime import UTC, datetime

    from chalicelib.domain.model import Account, AccountStatus, AccountType, CreationMode, SecurityModel

    now = datetime.now(UTC)
    account = Account(
        id="x", username="123456789", group_id=str(uuid.uuid4()), provisioning_profile_id=str(uuid.uuid4()),
        phone_number="+393471234567", secondary_phone_number=None, account_type=AccountType.PGSM,
        security_model=SecurityModel.SDES, obfuscation_enabled=True, obfuscation_key="9", keep_alive=False,
        permit=(), deny=(), full_name="Person 1", email="p1@example.com", description="staff", enabled=False,
        status=AccountStatus.CREATED, status_changed_at=now, created_at=now, updated_at=now,
        creation_mode=CreationMode.BATCH, credentials=None,
    )  # fmt: skip
    item: dict[str, Any] = _account_to_model(AccountModel, account).serialize()
    return item


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk-rows", type=int, default=1000)
    args = arguments(parser, {"rows": 200, "chunk_rows": 50})
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    moto, url = _start_moto(stock=False)
    try:
        region = "eu-west-1"
        queue_url = create_import_resources(url, region, "bench-imports", "bench-imports")
        settings = Settings(storage="dynamodb", dynamodb_endpoint=url, region=region, imports_bucket="bench-imports",
                            s3_endpoint=url, sqs_endpoint=url, import_queue_url=queue_url)  # fmt: skip
        small = max(1, args.rows // 10)
        _, _, small_peak = run_pipeline(settings, small, args.chunk_rows)
        elapsed, job, peak = run_pipeline(settings, args.rows, args.chunk_rows)
        print(f"pipeline done: {args.rows / elapsed:.1f} rows/s; now the raw baseline", flush=True)
        raw = run_raw(url, region, args.rows)
    finally:
        moto.terminate()
    ours, theirs = args.rows / elapsed, args.rows / raw
    print(f"pipeline: {args.rows} rows in {elapsed:.1f} s = {ours:.1f} rows/s ({job.chunks} chunks)")
    print(f"raw BatchWriteItem: {args.rows} items in {raw:.1f} s = {theirs:.1f} items/s")
    print(f"ratio: {ours / theirs:.1%} (goal >= {GOAL:.0%})")
    print(f"peak RSS: after {small} rows {small_peak / 2**20:.1f} MiB, after {args.rows} rows {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
