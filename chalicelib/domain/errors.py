"""Domain errors: small exception classes, each declaring the HTTP status and title it answers with.

The API (`api/http.problem_for`) and the console (`console/web.page`) read `status`, `title`, `code` and
`retry_after` from the error itself; there is no table elsewhere. Errors that mean a dependency is down
derive from `Unavailable` (503 with Retry-After), so an outage never reads as a bad request.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


class DomainError(Exception):
    """Base of every error the services raise on purpose."""

    code = "error"
    status = 400
    title = "Bad request"
    retry_after: int | None = None  # seconds; sent as Retry-After when set

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field


class Unavailable(DomainError):
    """A dependency (database, queue, file store, search engine, vendor) cannot serve the request now: 503 with
    Retry-After. Adapters raise a subclass of this instead of letting a vendor exception escape."""

    code = "unavailable"
    status = 503
    title = "Service unavailable"
    default_retry_after = 5

    def __init__(
        self, message: str, retry_after: int | None = None, *, code: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(message, code=code, field=field)
        self.retry_after = retry_after if retry_after is not None else self.default_retry_after


class ValidationFailed(DomainError):
    code = "validation_failed"
    status = 422
    title = "Invalid fields"

    def __init__(self, errors: list[FieldError], message: str = "The request has invalid fields.") -> None:
        super().__init__(message, field=errors[0].field if errors else None)
        self.errors = errors


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = "Not found"


class Conflict(DomainError):
    """A uniqueness or state conflict (duplicate username or number, group still in use...)."""

    code = "conflict"
    status = 409
    title = "Conflict"


class Unauthorized(DomainError):
    code = "unauthorized"
    status = 401
    title = "Unauthorized"


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    title = "Forbidden"


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
    title = "Too many requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConcurrentModification(DomainError):
    """The stored item changed between read and write; the caller may retry."""

    code = "concurrent_modification"
    status = 409
    title = "Concurrent modification"


class PreconditionFailed(DomainError):
    """The client's `If-Match` names a version the item no longer has: someone changed it since it was read."""

    code = "precondition_failed"
    status = 412
    title = "Precondition failed"


class PreconditionRequired(DomainError):
    """This deployment requires `If-Match` on changes (REQUIRE_IF_MATCH), and the request had none."""

    code = "precondition_required"
    status = 428
    title = "Precondition required"


class StaleReference(ConcurrentModification):
    """A group or profile that a write relied on changed or vanished meanwhile."""

    code = "stale_reference"


class ProviderError(Unavailable):
    """The SMS or e-mail provider refused or failed. `retryable`: worth trying again later (throttling, 5xx,
    network). Should one reach a request, it is the provider's failure, not the client's: 503."""

    code = "provider_error"
    title = "Provider unavailable"
    default_retry_after = 30

    def __init__(self, message: str, *, provider_code: str = "", retryable: bool = False) -> None:
        super().__init__(message)
        self.provider_code = provider_code
        self.retryable = retryable


class UpstreamUnavailable(Unavailable):
    code = "upstream_unavailable"
    title = "Upstream unavailable"
    default_retry_after = 30


class LicenceUnavailable(Unavailable):
    """No licence can be served: the vendor cannot be reached and the cache is empty or past its grace."""

    code = "licence_unavailable"
    title = "Licence unavailable"


class InvalidLink(DomainError):
    """Unknown, expired, used or superseded provisioning link: one answer for all, so none can be told apart."""

    code = "invalid_link"
    status = 404
    title = "Invalid link"

    def __init__(self) -> None:
        super().__init__("This link is not valid any more. Ask your operator to send a new one.")


class StorageBusy(Unavailable):
    """The database throttled a write even after the client's retries: 503 with Retry-After."""

    code = "busy"
    title = "Busy"
    default_retry_after = 2


class StorageUnavailable(Unavailable):
    """The database or the file store failed or cannot be reached (anything but a refused condition)."""

    code = "storage_unavailable"
    title = "Storage unavailable"


class QueueUnavailable(Unavailable):
    """A queue (SMS, imports) cannot be reached."""

    code = "queue_unavailable"
    title = "Queue unavailable"


class OutcomeUnknown(StorageUnavailable):
    """The database did not answer a write in time: it may or may not have happened. 503; a retry is safe (the
    same request, above all with the same Idempotency-Key, finds its own write and reports success)."""

    code = "outcome_unknown"
    title = "Outcome unknown"

    def __init__(self) -> None:
        super().__init__(
            "The database did not answer in time; the change may or may not have been made. Send the same request "
            "again (with the same Idempotency-Key) to find out.",
            retry_after=2,
        )


class InvalidCursor(DomainError):
    """A page cursor we did not hand out (crafted, cut or from another list): 400."""

    code = "invalid_cursor"
    status = 400
    title = "Bad request"

    def __init__(self) -> None:
        super().__init__("The cursor is not valid: pass back a next_cursor as it came.", field="cursor")


class FileMissing(NotFound):
    code = "file_missing"
