"""What each function may touch: one role per function, with one written-out policy made from its `Access`.

The internet-facing API reads and writes the tables, sends to the SMS and import queues, uses the bucket, may
only read the search index, reads the licence vendor's secret and the status callbacks' key (the capability in
the callback URL each message is sent with), and sends e-mail. Only the indexer writes to the search domain;
only the SMS sender reads the Twilio secret; a function gets the ARN of a secret in its environment only when
it may read that secret (the app reads every secret it is given when it starts).

Tables are not narrowed per function: the services behind each handler use most of them (accounts, timeline,
messages, guards), and which ones follows the code, not the deployment."""

from __future__ import annotations

from dataclasses import dataclass

from infra import application as handlers

TWILIO = "TWILIO_SECRET_ARN"
LICENCE = "LICENCE_UPSTREAM_SECRET_ARN"
CALLBACK = "SMS_CALLBACK_SECRET_ARN"


@dataclass(frozen=True)
class Access:
    tables: bool = False  # every table and its indexes, read and write
    stream: bool = False  # the accounts table's stream
    consumes: tuple[str, ...] = ()  # work queues it is the consumer of (receive, delete)
    sends: tuple[str, ...] = ()  # queues it sends to
    files: bool = False  # the imports bucket's objects
    search: str = ""  # "read" or "write"
    secrets: tuple[str, ...] = ()  # the environment variables of the secrets it reads
    email: bool = False


ACCESS = {
    handlers.API: Access(
        tables=True, sends=("sms", "imports"), files=True, search="read", secrets=(CALLBACK, LICENCE), email=True
    ),
    handlers.INDEX_ACCOUNTS: Access(stream=True, sends=("index_failures",), search="write"),
    handlers.SEND_SMS: Access(tables=True, consumes=("sms",), secrets=(TWILIO, CALLBACK)),
    handlers.RECORD_SIP_EVENTS: Access(tables=True, consumes=("sip_events",)),
    handlers.RUN_IMPORT_CHUNK: Access(tables=True, consumes=("imports",), sends=("imports", "sms"), files=True),
    handlers.IMPORT_OBJECT_CREATED: Access(tables=True, sends=("imports", "upload_failures"), files=True),
}
SECRET_VARIABLES = (TWILIO, LICENCE, CALLBACK)


def access_of(handler: handlers.Handler) -> Access:
    return ACCESS[handler]
