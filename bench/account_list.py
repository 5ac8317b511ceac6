"""The console's account list at scale: a page of 50 of N accounts, sorted and filtered, timed on the server.

    python -m bench.account_list [--accounts 10000] [--runs 40] [--smoke]

The local stack's pieces: DynamoDB on a moto server (the operator's session, the groups and profiles the page
reads) and the embedded tantivy index holding N accounts of one group (indexed directly, as the accounts
table's stream would feed it: creating 10,000 accounts through moto would take minutes and is not what is
timed). Each run is one GET of /console/accounts through the app's handler (Chalice's test client, in this
process: authentication, the listing's parsing, the search, the rendering), sorted by owner descending and
filtered to enabled PGSM accounts, 50 a page, the page number moving through the first pages. Prints its median
and p95 (goal: p95 under 300 ms, issue 19) and, as the baseline measured in the same run, the same search on the
index alone (SearchIndex.search with the same listing: the engine's part of the page). `--smoke`: 500
accounts, 5 runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from dataclasses import replace

from chalice.test import Client

from app import app
from bench import arguments
from bench.create_accounts import _start_moto
from bench.setup import bench_world
from chalicelib import bootstrap
from chalicelib.adapters.cursor import encode_cursor
from chalicelib.adapters.search_tantivy import TantivySearchIndex
from chalicelib.services import operators
from chalicelib.services.search_port import IndexChange, Listing, SearchDocument
from chalicelib.settings import Settings

GOAL_MS = 300.0
PAGE = 50
FIGURE = r"^console page \(ours\): +median +[\d.]+ ms +p95 +[\d.]+ ms"
BASELINE = r"^index alone: +median +[\d.]+ ms +p95 +[\d.]+ ms"
FIRST = ["Marco", "Giulia", "Luca", "Anna", "Paolo", "Sara", "Giorgio", "Elena", "Franco", "Chiara"]
LAST = ["Rossi", "Bianchi", "Verdi", "Marconi", "Russo", "Ferrari", "Esposito", "Romano", "Colombo", "Ricci"]
STATUSES = ["created", "installation_sms_sent", "installed", "activation_sms_sent", "activated"]


def _document(i: int, group_id: str) -> SearchDocument:
    return SearchDocument(
        id=f"acc-{i:06d}", group_id=group_id, version=1, username=f"{100000 + i}",
        full_name=f"{FIRST[i % 10]} {LAST[(i // 10) % 10]} {i}", phone_number=f"+39347{i:07d}",
        secondary_phone_number=f"+39348{i:07d}" if i % 7 == 0 else None, email=f"user{i}@example.com",
        description="Sales" if i % 3 else "Support", account_type="SNOM" if i % 9 == 0 else "PGSM",
        enabled=i % 5 != 0, status=STATUSES[i % 5], status_changed_at=f"2026-11-{1 + i % 28:02d}T10:00:00.000Z",
        sms_problem="undelivered" if i % 50 == 0 else "",
    )  # fmt: skip


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=40)
    args = arguments(parser, {"accounts": 500, "runs": 5})
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    moto, url = _start_moto(False)
    try:
        settings = Settings(storage="dynamodb", dynamodb_endpoint=url, table_prefix=f"bench{uuid.uuid4().hex[:6]}")
        ctx, _, group = bench_world(settings)
        index = TantivySearchIndex()
        ctx = replace(ctx, search=index)
        bootstrap.use(ctx)
        started = time.perf_counter()
        for start in range(0, args.accounts, 2000):
            stop = min(args.accounts, start + 2000)
            index.apply([IndexChange(f"acc-{i:06d}", 1, _document(i, group.id)) for i in range(start, stop)])
        indexing = time.perf_counter() - started
        token = operators.login(ctx, {"username": "admin", "password": "bench-password"}, "127.0.0.1", "bench",
                                idle_seconds=3600).token  # fmt: skip
        listing = Listing(sort="full_name", descending=True, enabled=True, account_type="PGSM")
        total = index.search(group.id, None, 1, None, listing).total or 0
        pages = max(1, min(10, total // PAGE))
        ours: list[float] = []
        alone: list[float] = []
        with Client(app) as client:
            for run in range(args.runs + 1):
                offset = (run % pages) * PAGE
                cursor = _offset_cursor(offset)
                path = (f"/console/accounts?group_id={group.id}&sort=full_name&dir=desc&enabled=yes&type=PGSM"
                        f"&size={PAGE}" + (f"&cursor={cursor}" if offset else ""))  # fmt: skip
                t0 = time.perf_counter()
                response = client.http.get(path, headers={"Cookie": f"console_session={token}"})
                t1 = time.perf_counter()
                index.search(group.id, None, PAGE, cursor if offset else None, listing)
                t2 = time.perf_counter()
                assert response.status_code == 200 and b"accounts" in response.body, response.status_code
                if run:  # the first run warms the caches
                    ours.append((t1 - t0) * 1000)
                    alone.append((t2 - t1) * 1000)
    finally:
        moto.terminate()
    ours_median, ours_p95 = _percentiles(ours)
    alone_median, alone_p95 = _percentiles(alone)
    verdict = "met" if ours_p95 < GOAL_MS else "NOT met"
    print(f"accounts indexed:    {args.accounts} in one group ({indexing:.1f} s); {total} enabled PGSM ones listed")
    print(f"page:                {PAGE} accounts, by owner descending, enabled PGSM only, pages 1-{pages}")
    print(f"console page (ours): median {ours_median:7.1f} ms  p95 {ours_p95:7.1f} ms  ({len(ours)} runs)")
    print(f"index alone:         median {alone_median:7.1f} ms  p95 {alone_p95:7.1f} ms  (same listing, same pages)")
    print(f"goal:                p95 < {GOAL_MS:.0f} ms: {verdict}")


def _offset_cursor(offset: int) -> str:
    return encode_cursor(offset)  # the embedded index's cursor: an offset


if __name__ == "__main__":
    main()
