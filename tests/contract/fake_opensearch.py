"""A fake OpenSearch HTTP server on loopback: records every request, keeps the bulk-indexed documents per
concrete index, resolves aliases, and answers `_search` by evaluating the query DSL subset the adapter sends
(bool filter/must/should/must_not, term, terms, match_phrase, wildcard) over the documents as the mapping's
white-space analyzer tokenizes them. So the conformance suite can run the same cases on the request shape the
adapter sends, and the alias swap of a rebuild is seen from the reader's side."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlparse


def _wildcard(value: str) -> re.Pattern[str]:
    out, escaped = [], False
    for char in value:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def _tokens(doc: dict[str, Any], field: str) -> list[str]:
    value = doc.get(field)
    return value.split() if isinstance(value, str) else []


def matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    ((kind, spec),) = query.items()
    if kind == "bool":
        return _bool(doc, spec)
    ((field, value),) = spec.items()
    if kind == "term":
        if field in ("group_id", "live", "id") or field.startswith("f_"):  # keyword fields: the whole value
            return doc.get(field) == value
        return value in _tokens(doc, field)
    if kind == "terms":
        return any(token in value for token in _tokens(doc, field))
    if kind == "match_phrase":
        words, tokens = value.split(), _tokens(doc, field)
        return any(tokens[i : i + len(words)] == words for i in range(len(tokens) - len(words) + 1))
    if kind == "wildcard":
        pattern = _wildcard(value["value"])
        return any(pattern.fullmatch(token) for token in _tokens(doc, field))
    raise AssertionError(f"the adapter sent a query the fake does not know: {kind}")


def _bool(doc: dict[str, Any], spec: dict[str, Any]) -> bool:
    required = spec.get("filter", []) + spec.get("must", [])
    if not all(matches(doc, q) for q in required) or any(matches(doc, q) for q in spec.get("must_not", [])):
        return False
    should = spec.get("should", [])
    needed = spec.get("minimum_should_match", 0 if required or spec.get("must_not") else 1)
    return not should or sum(matches(doc, q) for q in should) >= min(needed, len(should))


class _Server(ThreadingHTTPServer):
    fake: FakeOpenSearch


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _record(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        if self.path.startswith("/_bulk"):
            body: Any = [json.loads(line) for line in raw.splitlines() if line]
        else:
            body = json.loads(raw) if raw else None
        self.server.fake.requests.append((self.command, unquote(urlparse(self.path).path), body))
        self.server.fake.authorizations.append(self.headers.get("Authorization") or "")
        return body

    def _path(self) -> list[str]:
        return [p for p in unquote(urlparse(self.path).path).split("/") if p]

    def do_HEAD(self) -> None:
        self._record()
        parts, fake = self._path(), self.server.fake
        found = parts[1] in fake.aliases if parts[0] == "_alias" else bool(fake.resolve(parts[0]))
        self._answer(200 if found else 404, {})

    def do_GET(self) -> None:
        self._record()
        parts, fake = self._path(), self.server.fake
        if parts[0] == "_alias" and parts[1] in fake.aliases:
            self._answer(200, {name: {"aliases": {parts[1]: {}}} for name in fake.aliases[parts[1]]})
        else:
            self._answer(404, {"error": "alias_not_found"})

    def do_PUT(self) -> None:
        body = self._record() or {}
        name = self._path()[0]
        self.server.fake.indices[name] = {}
        for alias in body.get("aliases", {}):
            self.server.fake.aliases.setdefault(alias, []).append(name)
        self._answer(200, {"acknowledged": True})

    def do_DELETE(self) -> None:
        self._record()
        self.server.fake.delete(self._path()[0])
        self._answer(200, {"acknowledged": True})

    def do_POST(self) -> None:
        body = self._record()
        parts, fake = self._path(), self.server.fake
        if parts[0] == "_bulk":
            self._answer(200, {"errors": False, "items": fake.bulk(body)})
        elif parts[0] == "_aliases":
            fake.update_aliases(body["actions"])
            self._answer(200, {"acknowledged": True})
        elif fake.refuse_search is not None:
            self._answer(fake.refuse_search, {"error": {"type": "too_complex_to_determinize_exception"}})
        else:
            self._answer(200, fake.search(parts[0], body))


class FakeOpenSearch:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.authorizations: list[str] = []
        self.indices: dict[str, dict[str, dict[str, Any]]] = {}  # concrete index → id → source
        self.versions: dict[tuple[str, str], int] = {}
        self.aliases: dict[str, list[str]] = {}  # alias → concrete indices
        self.refuse_search: int | None = None  # answer _search with this status
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.fake = self
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delete(self, name: str) -> None:
        self.indices.pop(name, None)
        for names in self.aliases.values():
            if name in names:
                names.remove(name)

    def resolve(self, name: str) -> list[str]:
        if name in self.aliases:
            return list(self.aliases[name])
        return [name] if name in self.indices else []

    def bulk(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        items = []
        for action, source in zip(lines[::2], lines[1::2], strict=True):
            meta = action["index"]
            (name,) = self.resolve(meta["_index"]) or [meta["_index"]]
            held = self.versions.get((name, meta["_id"]))
            newer = (
                held is None
                or meta["version"] > held
                or (meta["version_type"] == "external_gte" and meta["version"] >= held)
            )
            if newer:
                self.indices.setdefault(name, {})[meta["_id"]] = source
                self.versions[(name, meta["_id"])] = meta["version"]
            items.append({"index": {"status": 201 if newer else 409}})
        return items

    def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        for action in actions:
            ((kind, spec),) = action.items()
            if kind == "add":
                self.aliases.setdefault(spec["alias"], []).append(spec["index"])
            elif kind == "remove":
                self.aliases[spec["alias"]].remove(spec["index"])
            elif kind == "remove_index":
                self.indices.pop(spec["index"])

    def search(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        docs = [doc for index in self.resolve(name) for doc in self.indices[index].values()]
        ((field, order),) = body["sort"][0].items()
        descending = order == "desc"
        hits = sorted((d for d in docs if matches(d, body["query"])), key=lambda d: str(d[field]), reverse=descending)
        total = len(hits)
        if "search_after" in body:
            after = body["search_after"][0]
            hits = [d for d in hits if (str(d[field]) < after if descending else str(d[field]) > after)]
        page = [{"_source": d, "sort": [d[field]]} for d in hits[: body["size"]]]
        answer: dict[str, Any] = {"hits": {"hits": page}}
        if body.get("track_total_hits"):
            answer["hits"]["total"] = {"value": total, "relation": "eq"}
        return answer

    def stop(self) -> None:
        self.server.shutdown()
