"""What each function may touch: one role per function, with one written-out policy made from its `Access`.

The internet-facing API reads and writes every table (it serves every resource), sends to the SMS and import
queues, uses the bucket, may only read the search index, and reads the licence vendor's secret and the status
callbacks' key. Only the indexer writes to the search domain; only the SMS sender reads the Twilio secret and
sends e-mail (the queue's messages are SMS or e-mail); a function gets the ARN of a secret in its environment only
when it may read that secret (the app reads every secret it is given when it starts).

The event functions may touch only the tables they use, written (`tables`) or only read (`reads`): what
tests/infra/test_table_access.py records while each one runs through its paths on moto, exactly (a table used but
not granted fails that test, and so does one granted but never used)."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters.dynamo_models import ALL_MODELS
from infra import application as handlers

TWILIO = "TWILIO_SECRET_ARN"
LICENCE = "LICENCE_UPSTREAM_SECRET_ARN"
CALLBACK = "SMS_CALLBACK_SECRET_ARN"


@dataclass(frozen=True)
class Access:
    tables: tuple[str, ...] = ()  # tables (and their indexes) it reads and writes
    reads: tuple[str, ...] = ()  # tables (and their indexes) it only reads
    stream: bool = False  # the accounts table's stream
    consumes: tuple[str, ...] = ()  # work queues it is the consumer of (receive, delete)
    sends: tuple[str, ...] = ()  # queues it sends to
    files: bool = False  # the imports bucket's objects
    search: str = ""  # "read" or "write"
    secrets: tuple[str, ...] = ()  # the environment variables of the secrets it reads
    email: bool = False


EVERY_TABLE = tuple(ALL_MODELS)
ACCESS = {
    handlers.API: Access(
        tables=EVERY_TABLE, sends=("sms", "imports"), files=True, search="read", secrets=(CALLBACK, LICENCE)
    ),
    handlers.INDEX_ACCOUNTS: Access(stream=True, sends=("index_failures",), search="write"),
    handlers.SEND_SMS: Access(
        tables=("accounts", "messages", "timeline", "uniques"),
        reads=("profiles",),
        consumes=("sms",),
        secrets=(TWILIO, CALLBACK),
        email=True,
    ),
    handlers.RECORD_SIP_EVENTS: Access(
        tables=("accounts", "calls", "registrations", "timeline", "uniques"),
        reads=("profiles",),
        consumes=("sip_events",),
    ),
    handlers.RUN_IMPORT_CHUNK: Access(
        tables=("accounts", "audit", "groups", "imports", "messages", "timeline", "tokens", "uniques"),
        reads=("profiles",),
        consumes=("imports",),
        sends=("imports", "sms"),
        files=True,
    ),
    handlers.IMPORT_OBJECT_CREATED: Access(
        tables=("audit", "imports"), reads=("groups",), sends=("imports", "upload_failures"), files=True
    ),
}
SECRET_VARIABLES = (TWILIO, LICENCE, CALLBACK)


def access_of(handler: handlers.Handler) -> Access:
    return ACCESS[handler]
