"""The optional `Idempotency-Key` header of POSTs: the same key (per operator) gets the same answer for 24 hours.

The first request with a key claims it (a conditional write with a short lease), runs with ids derived from the
key, and stores its answer; a repeat of the same request gets that answer again (`Idempotent-Replayed: true`),
while the first still runs 409 `request_in_progress`, and with another body 422 `idempotency_key_reused`. A run
that ends in a 5xx (an unknown outcome above all) stores nothing: the client's retry runs again, and because its
ids are the same, a creation that landed the first time finds its own item and reports success.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from chalice.app import Request, Response

from chalicelib.domain.errors import Conflict, FieldError, ValidationFailed
from chalicelib.domain.model import Operator
from chalicelib.services.context import Context
from chalicelib.services.ports import StoredResponse

HEADER = "Idempotency-Key"
KEPT = timedelta(hours=24)
LEASE = timedelta(seconds=60)  # a run that died unanswered frees its key after this
MAX_STORED_BODY = 300_000  # DynamoDB items hold 400 KB


def _key(request: Request) -> str | None:
    key = request.headers.get(HEADER.lower())
    if not isinstance(key, str):
        return None
    if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        error = FieldError(HEADER, "invalid_idempotency_key", "Use 1 to 255 printable ASCII characters.")
        raise ValidationFailed([error])
    return key


def _fingerprint(request: Request) -> str:
    raw = request.raw_body or b""
    body = raw if isinstance(raw, bytes) else raw.encode()
    return hashlib.sha256(f"{request.method} {request.path}\n".encode() + body).hexdigest()


def _derived_ids(scope: str) -> Callable[[], str]:
    counter = itertools.count()
    return lambda: str(uuid.uuid5(uuid.NAMESPACE_URL, f"idempotency:{scope}:{next(counter)}"))


def _replay(stored: StoredResponse) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": stored.content_type, "Idempotent-Replayed": "true"}
    return Response(body=stored.body, status_code=stored.status, headers=headers)


def run(ctx: Context, request: Request, actor: Operator | None, call: Callable[[Context], Response]) -> Response:
    """`call(ctx)` under the request's Idempotency-Key, if it is a POST by an operator that sent one."""
    key = _key(request) if request.method == "POST" and actor is not None else None
    if key is None or actor is None:
        return call(ctx)
    scope = hashlib.sha256(f"{actor.id}\n{key}".encode()).hexdigest()
    fingerprint = _fingerprint(request)
    now = ctx.clock()
    stored = ctx.idempotency.claim(scope, fingerprint, now, now + LEASE, now + KEPT)
    if stored is not None:
        if stored.fingerprint != fingerprint:
            message = "This Idempotency-Key was used for another request; use a new key."
            raise ValidationFailed([FieldError(HEADER, "idempotency_key_reused", message)])
        if not stored.status:
            raise Conflict("A request with this Idempotency-Key is still running.", code="request_in_progress")
        return _replay(stored)
    try:
        response = call(replace(ctx, new_id=_derived_ids(scope)))
    except BaseException:
        ctx.idempotency.release(scope)
        raise
    body = response.body
    if response.status_code >= 500 or not isinstance(body, str) or len(body) > MAX_STORED_BODY:
        ctx.idempotency.release(scope)
        return response
    content_type = str(response.headers.get("Content-Type", "application/json"))
    ctx.idempotency.complete(scope, StoredResponse(fingerprint, response.status_code, content_type, body), now + KEPT)
    return response
