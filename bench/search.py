"""Search latency on the embedded engine: our layer vs. the same queries run directly on tantivy, and the
worst of a set of adversarial queries the search accepts.

    python -m bench.search [--accounts 100000] [--runs 200] [--smoke]

Indexes N generated accounts through TantivySearchIndex.apply, then times three queries of the search box
(a plain word, a prefix wildcard, an infix wildcard) end to end through our layer (parse, translate, search,
decode the documents) and raw (the same term/regex/boolean queries written directly against tantivy, built for
each query, and the same stored-document fetches). Prints median and p95 of each, and our overhead (goal: under
20%, plain word under 5 ms p95). Then times ADVERSARIAL queries (the most wildcards the parser lets through,
leading wildcards, whole-piece wildcards, long boolean queries) and prints the worst p95 next to the goal of
100 ms (issue 18), and checks that what costs more is refused. `--smoke`: 2,000 accounts, 20 runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import tantivy

from bench import arguments
from chalicelib.adapters.search_tantivy import TantivySearchIndex
from chalicelib.domain.search import InvalidQuery, parse_query
from chalicelib.services.search_port import IndexChange, SearchDocument

FIRST = ["Marco", "Giulia", "Luca", "Anna", "Paolo", "Sara", "Giorgio", "Elena", "Franco", "Chiara", "Marta", "Carlo"]
LAST = ["Rossi", "Bianchi", "Verdi", "Marconi", "Russo", "Ferrari", "Esposito", "Romano", "Colombo", "Ricci"]
ROLES = ["Sales", "Support", "Board", "Logistics", "Legal", "Finance", "Engineering", "Field"]
QUERIES = {"plain word": "rossi", "prefix wildcard": "mar*", "infix wildcard": "*arc*"}
# The same queries written directly against tantivy: a term, or an anchored regex, on each of the five fields.
RAW = {"rossi": ("term", "rossi"), "mar*": ("regex", "mar.*"), "*arc*": ("regex", ".*arc.*")}
FIELDS = ("owner", "username", "callerid", "email", "description")
GROUP = "g1"
LIMIT = 25
FIGURE = r"^plain word 'rossi' +[\d.]+ms +[\d.]+ms"
BASELINE = r"^plain word 'rossi'( +[\d.]+ms){4}"
GOAL_MS = 100.0
ADVERSARIAL = [
    "*?" * 8,  # issue 18: *? 16 times took 3 s on every backend before the runs were normalised
    "?" * 8,
    "?" * 8 + "*",
    "*a*e*i*o",
    "a*e*i*o*",
    "*1*2*3*4",
    "owner:*a* callerid:*2* email:*e*",
    "*@example.com",
    "*.*@*.*",
    "*-*",
    "*",
    "NOT *",
    "-*a*",
    "email:*@* callerid:9*9*9*9*",
    " OR ".join(FIRST + LAST + ROLES),
    " ".join(f"-{name}" for name in FIRST + LAST),
    "(" * 16 + "rossi" + ")" * 16,
    '"marco rossi" OR "sales team 1" OR "rossi 1"',
    "marco* rossi* sales* team* 1* 9*",
]
REFUSED = [
    "owner:*a* username:*1* callerid:*2* email:*e* description:*i*",  # five fielded scans (at most three)
    *["*?" * 16, "?" * 80, "*a" * 30, "*a*b*c*d*e", "a* b* c* d* e* f* g*", "*a* *e*", "marco~1", "x" * 501],
]


def documents(count: int, seed: int = 7) -> list[SearchDocument]:
    rng = random.Random(seed)
    docs = []
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        docs.append(
            SearchDocument(
                id=f"acc-{i:06d}", group_id=GROUP, version=1, username=str(100000000 + i),
                full_name=f"{first} {last}", phone_number=f"+39347{i:07d}", secondary_phone_number=None,
                email=f"{first}.{last}{i}@example.com".lower(), description=f"{rng.choice(ROLES)} team {i % 97}",
                account_type="PGSM", enabled=True, status="created", status_changed_at="2026-11-25T10:00:00.000Z",
            )
        )  # fmt: skip
    return docs


def timed(run: Callable[[], object], runs: int) -> tuple[float, float]:
    for _ in range(5):
        run()  # warm up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    args = arguments(parser, {"accounts": 2000, "runs": 20})

    index = TantivySearchIndex()
    docs = documents(args.accounts)
    started = time.perf_counter()
    for start in range(0, len(docs), 5000):
        index.apply([IndexChange(d.id, d.version, d) for d in docs[start : start + 5000]])
    load_seconds = time.perf_counter() - started
    print(f"indexed {len(docs)} accounts in {load_seconds:.1f} s ({len(docs) / load_seconds:,.0f} docs/s)")

    searcher = index.index.searcher()

    schema = index.schema

    def direct(text: str) -> tantivy.Query:
        kind, value = RAW[text]
        make = tantivy.Query.term_query if kind == "term" else tantivy.Query.regex_query
        words = tantivy.Query.boolean_query([(tantivy.Occur.Should, make(schema, f, value)) for f in FIELDS])
        return tantivy.Query.boolean_query([*scope, (tantivy.Occur.Must, words)])

    def raw(text: str) -> Callable[[], object]:
        def run() -> object:  # built for each query, as any direct user of tantivy has to
            hits = searcher.search(direct(text), limit=LIMIT + 1, order_by_field="sort_key", order=tantivy.Order.Asc,
                                   count=False).hits  # fmt: skip
            return [searcher.doc(address).get_first("payload") for _, address in hits]

        return run

    scope = [
        (tantivy.Occur.Must, tantivy.Query.term_query(index.schema, "group_id", GROUP)),
        (tantivy.Occur.Must, tantivy.Query.term_query(index.schema, "live", "1")),
    ]

    def ours(text: str) -> Callable[[], object]:
        return lambda: index.search(GROUP, parse_query(text), LIMIT, None)

    print(f"{'query':<26} {'ours median':>11} {'ours p95':>9} {'raw median':>10} {'raw p95':>8} {'overhead':>8}")
    for label, text in QUERIES.items():
        ours_median, ours_p95 = timed(ours(text), args.runs)
        raw_median, raw_p95 = timed(raw(text), args.runs)
        overhead = ours_median / raw_median - 1
        print(f"{label + ' ' + repr(text):<26} {ours_median:9.2f}ms {ours_p95:7.2f}ms {raw_median:8.2f}ms "
              f"{raw_p95:6.2f}ms {overhead:8.1%}")  # fmt: skip
    print("goals: overhead under 20%; plain word under 5 ms p95")
    adversarial(index, args.runs)


def search(index: TantivySearchIndex, text: str) -> Callable[[], object]:
    return lambda: index.search(GROUP, parse_query(text), LIMIT, None)


def adversarial(index: TantivySearchIndex, runs: int) -> None:
    worst = ("", 0.0)
    print(f"{'adversarial query (accepted)':<60} {'median':>8} {'p95':>8}")
    for text in ADVERSARIAL:
        median, p95 = timed(search(index, text), max(runs // 4, 10))
        print(f"{text[:58]!r:<60} {median:6.2f}ms {p95:6.2f}ms")
        worst = max(worst, (text, p95), key=lambda pair: pair[1])
    for text in REFUSED:
        try:
            parse_query(text)
        except InvalidQuery as exc:
            print(f"refused {text[:40]!r}: {exc.reason}")
        else:
            raise SystemExit(f"{text!r} should have been refused")
    print(f"worst accepted p95: {worst[1]:.2f} ms ({worst[0][:40]!r}); goal: under {GOAL_MS:.0f} ms")


if __name__ == "__main__":
    main()
