"""The composition root: the one place that chooses adapters, from settings.

Clients are built lazily on first use and cached in a module global, so a warm Lambda reuses them and
nothing connects at import time.
"""

from __future__ import annotations

from chalicelib.services.context import Context
from chalicelib.services.ports import EmailSender, FileStore, LicenceUpstream, SmsQueue, SmsSender, TaskQueue
from chalicelib.services.search_port import SearchIndex
from chalicelib.settings import Settings

_context: Context | None = None


def search_index(settings: Settings) -> SearchIndex:
    backend = settings.search_backend
    if backend == "memory":
        from chalicelib.adapters.search_memory import MemorySearchIndex

        return MemorySearchIndex()
    if backend == "tantivy":
        from chalicelib.adapters.search_tantivy import TantivySearchIndex

        return TantivySearchIndex(settings.search_index_path)
    if backend == "opensearch" and settings.opensearch_url:
        from chalicelib.adapters.search_opensearch import OpenSearchIndex

        region = settings.region if settings.opensearch_sigv4 else None
        return OpenSearchIndex(settings.opensearch_url, settings.opensearch_index, sigv4_region=region)
    raise ValueError(
        f"search backend {backend!r} needs OPENSEARCH_URL"
        if backend == "opensearch"
        else f"unknown search backend {backend!r}"
    )


def sms_sender(settings: Settings) -> SmsSender:
    if settings.sms_provider == "twilio":
        from chalicelib.adapters.sms_twilio import TwilioSender

        return TwilioSender(settings)
    if settings.sms_provider == "outbox":
        from chalicelib.adapters.sms_outbox import stdout_outbox

        return stdout_outbox()
    raise ValueError(f"unknown SMS provider {settings.sms_provider!r} (expected twilio or outbox)")


def email_sender(settings: Settings) -> EmailSender:
    if settings.email_provider == "ses":
        from chalicelib.adapters.email_ses import SesSender

        return SesSender(settings.email_from, settings.region)
    if settings.email_provider == "outbox":
        from chalicelib.adapters.sms_outbox import stdout_email_outbox

        return stdout_email_outbox()
    raise ValueError(f"unknown e-mail provider {settings.email_provider!r} (expected ses or outbox)")


def licence_upstream(settings: Settings) -> LicenceUpstream:
    from chalicelib.adapters.licence_upstream import HttpLicenceUpstream

    return HttpLicenceUpstream(
        settings.licence_upstream_url, settings.licence_upstream_token, settings.licence_upstream_timeout
    )


def sms_queue(settings: Settings) -> SmsQueue:
    if settings.sms_queue_url:
        from chalicelib.adapters.sqs import SqsQueue

        return SqsQueue(settings.sms_queue_url, settings.region, settings.sqs_endpoint)
    if settings.sms_provider != "outbox":
        raise ValueError("a real SMS provider needs SMS_QUEUE_URL (sending goes through the queue)")
    from chalicelib.adapters.memory import MemoryQueue

    return MemoryQueue()


def import_files(settings: Settings) -> FileStore:
    if settings.imports_bucket:
        from chalicelib.adapters.s3_files import S3Files

        return S3Files(settings.imports_bucket, settings.region, settings.s3_endpoint)
    if settings.storage != "memory":
        raise ValueError("DynamoDB storage needs IMPORTS_BUCKET (import files live in S3)")
    from chalicelib.adapters.memory import MemoryFiles

    return MemoryFiles()


def task_queue(settings: Settings) -> TaskQueue:
    if settings.import_queue_url:
        from chalicelib.adapters.sqs import SqsTasks

        return SqsTasks(settings.import_queue_url, settings.region, settings.sqs_endpoint)
    if settings.storage != "memory":
        raise ValueError("DynamoDB storage needs IMPORT_QUEUE_URL (imports run through the queue)")
    from chalicelib.adapters.memory import MemoryTasks

    return MemoryTasks()


def build(settings: Settings) -> Context:
    from chalicelib.adapters.passwords import Argon2Hasher

    if settings.storage == "memory":
        from chalicelib.adapters import memory

        db = memory.MemoryDatabase()
        return Context(
            accounts=memory.MemoryAccounts(db),
            groups=memory.MemoryGroups(db),
            profiles=memory.MemoryProfiles(db),
            operators=memory.MemoryOperators(db),
            sessions=memory.MemorySessions(db),
            idempotency=memory.MemoryIdempotency(db),
            login_audit=memory.MemoryLoginAudit(db),
            audit=memory.MemoryAuditTrail(db),
            search=search_index(settings),
            tokens=memory.MemoryTokens(db),
            messages=memory.MemoryMessages(db),
            sms_queue=memory.MemoryQueue(),
            sms=sms_sender(settings),
            email=email_sender(settings),
            licences=memory.MemoryLicences(db),
            imports=memory.MemoryImports(db),
            registrations=memory.MemoryRegistrations(db),
            calls=memory.MemoryCalls(db),
            files=import_files(settings),
            tasks=task_queue(settings),
            licence_upstream=licence_upstream(settings),
            hasher=Argon2Hasher(),
            settings=settings,
        )
    if settings.storage != "dynamodb":
        raise ValueError(f"unknown storage backend {settings.storage!r} (expected 'dynamodb' or 'memory')")
    from chalicelib.adapters import dynamo, dynamo_models

    tables = dynamo_models.bind(settings)
    return Context(
        accounts=dynamo.DynamoAccounts(tables),
        groups=dynamo.DynamoGroups(tables),
        profiles=dynamo.DynamoProfiles(tables),
        operators=dynamo.DynamoOperators(tables),
        sessions=dynamo.DynamoSessions(tables),
        idempotency=dynamo.DynamoIdempotency(tables),
        login_audit=dynamo.DynamoLoginAudit(tables),
        audit=dynamo.DynamoAuditTrail(tables),
        search=search_index(settings),
        tokens=dynamo.DynamoTokens(tables),
        messages=dynamo.DynamoMessages(tables),
        sms_queue=sms_queue(settings),
        sms=sms_sender(settings),
        email=email_sender(settings),
        licences=dynamo.DynamoLicences(tables),
        imports=dynamo.DynamoImports(tables),
        registrations=dynamo.DynamoRegistrations(tables),
        calls=dynamo.DynamoCalls(tables),
        files=import_files(settings),
        tasks=task_queue(settings),
        licence_upstream=licence_upstream(settings),
        hasher=Argon2Hasher(),
        settings=settings,
    )


def context() -> Context:
    """The process-wide context, built from the environment on first use."""
    global _context
    if _context is None:
        settings = Settings.from_env()
        if settings.twilio_secret_arn or settings.licence_secret_arn:
            from chalicelib.adapters.secrets import with_secrets

            settings = with_secrets(settings)
        _context = build(settings)
    return _context


def use(ctx: Context | None) -> None:
    """Install a context (tests, the local runner); None forgets it so the next call rebuilds."""
    global _context
    _context = ctx
