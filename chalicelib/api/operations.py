"""Each API operation's documentation, declared on its route (`route(..., doc=Doc(...))`) and collected here;
api/openapi.py builds the document's paths from this registry and its components from domain/resources.py.

A route without a `doc` is not part of the /api/v1 document (the phones' `/m/` pages); the test of the document
checks that it lists exactly the API routes the app serves."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_ID = {"type": "string", "pattern": "^[0-9A-Za-z._-]{1,64}$", "description": "an id the API gave out"}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 200}


@dataclass(frozen=True)
class Query:
    name: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False
    description: str = ""

    def parameter(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "in": "query", "schema": self.schema}
        if self.required:
            out["required"] = True
        if self.description:
            out["description"] = self.description
        return out


GROUP_ID = Query("group_id", _ID, required=True)
LIMIT_ONLY = Query("limit", LIMIT)
PAGING = (LIMIT_ONLY, Query("cursor"))
CSV = {"text/csv": {"schema": {"type": "string"}}}


@dataclass(frozen=True)
class Doc:
    """An operation: `response` and `body` name component schemas (domain/resources.py); no `response` means
    no body (204 unless `status` says otherwise). `versioned`: its answer carries the item's ETag; `conditional`:
    it honours If-Match. `content` replaces the JSON answer (a CSV), `request_body` the JSON body (multipart),
    `responses` every generated answer (a callback with its own)."""

    summary: str
    response: str | None = None
    body: str | None = None
    status: int = 200
    query: tuple[Query, ...] = ()
    versioned: bool = False
    conditional: bool = False
    content: dict[str, Any] | None = None
    request_body: dict[str, Any] | None = None
    responses: dict[str, Any] | None = None


@dataclass(frozen=True)
class Documented:
    path: str
    method: str
    doc: Doc
    public: bool

    def path_parameters(self) -> list[dict[str, Any]]:
        return [{"name": n, "in": "path", "required": True, "schema": _ID} for n in re.findall(r"{(\w+)}", self.path)]


REGISTRY: dict[tuple[str, str], Documented] = {}


def register(path: str, methods: list[str], doc: Doc, public: bool) -> None:
    for method in methods:
        REGISTRY[(path, method.lower())] = Documented(path, method.lower(), doc, public)
