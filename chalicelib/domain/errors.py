"""Domain errors: small exception classes that the HTTP layer maps to problem documents."""

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

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field


class ValidationFailed(DomainError):
    code = "validation_failed"

    def __init__(self, errors: list[FieldError], message: str = "The request has invalid fields.") -> None:
        super().__init__(message, field=errors[0].field if errors else None)
        self.errors = errors


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """A uniqueness or state conflict (duplicate username or number, group still in use...)."""

    code = "conflict"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConcurrentModification(DomainError):
    """The stored item changed between read and write; the caller may retry."""

    code = "concurrent_modification"


class StaleReference(ConcurrentModification):
    """A group or profile that a write relied on changed or vanished meanwhile."""

    code = "stale_reference"


class ProviderError(DomainError):
    """The SMS provider refused or failed. `retryable`: worth trying again later (throttling, 5xx, network)."""

    code = "provider_error"

    def __init__(self, message: str, *, provider_code: str = "", retryable: bool = False) -> None:
        super().__init__(message)
        self.provider_code = provider_code
        self.retryable = retryable


class UpstreamUnavailable(DomainError):
    code = "upstream_unavailable"


class LicenceUnavailable(DomainError):
    """No licence can be served: the vendor cannot be reached and the cache is empty or past its grace."""

    code = "licence_unavailable"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidLink(DomainError):
    """Unknown, expired, used or superseded provisioning link: one answer for all, so none can be told apart."""

    code = "invalid_link"

    def __init__(self) -> None:
        super().__init__("This link is not valid any more. Ask your operator to send a new one.")


class StorageBusy(DomainError):
    """The database throttled a write even after the client's retries: 503 with Retry-After."""

    code = "busy"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OutcomeUnknown(StorageBusy):
    """The database did not answer a write in time: it may or may not have happened. 503; a retry is safe (the
    same request, above all with the same Idempotency-Key, finds its own write and reports success)."""

    code = "outcome_unknown"

    def __init__(self) -> None:
        super().__init__(
            "The database did not answer in time; the change may or may not have been made. Send the same request "
            "again (with the same Idempotency-Key) to find out.",
            retry_after=2,
        )


class FileMissing(NotFound):
    code = "file_missing"
