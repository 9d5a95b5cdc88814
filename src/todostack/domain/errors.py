"""Domain errors.

The tree, from the most general::

    TodoError
    ├── NotFound             the thing does not exist, or is not yours
    ├── Conflict             the request clashes with the current state
    │   └── PreconditionFailed   the version the caller saw is no longer current
    ├── Invalid              input breaks a rule; carries one message per field
    │   └── IdempotencyKeyReused  the same key came back with a different request
    ├── Forbidden            the caller is known but may not do this
    │   └── QuotaExceeded        the account already holds the most it may
    ├── AuthenticationFailed the caller could not be identified
    └── TooManyAttempts      too many sign-in attempts: wait ``retry_after_seconds``
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AuthenticationFailed",
    "Conflict",
    "FieldError",
    "Forbidden",
    "IdempotencyKeyReused",
    "Invalid",
    "NotFound",
    "PreconditionFailed",
    "QuotaExceeded",
    "TodoError",
    "TooManyAttempts",
]


class TodoError(Exception):
    """Base of every error the domain and use cases raise on purpose."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(TodoError):
    """The resource does not exist or belongs to someone else (the two are indistinguishable)."""


class Conflict(TodoError):
    """The request cannot be applied to the current state."""


class PreconditionFailed(Conflict):
    """Optimistic concurrency: the caller's version is stale."""

    def __init__(self, detail: str, current_version: int | None = None) -> None:
        super().__init__(detail)
        self.current_version = current_version


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class Invalid(TodoError):
    """Input breaks a rule; ``errors`` names every offending field."""

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        fields = ", ".join(e.field for e in errors)
        super().__init__(detail or f"invalid value for: {fields}")
        self.errors = errors


class IdempotencyKeyReused(Invalid):
    """An ``Idempotency-Key`` was reused for a request with different content."""

    def __init__(self) -> None:
        super().__init__(
            [FieldError("Idempotency-Key", "this key was already used with a different request")],
            detail="Idempotency-Key was already used with a different request body",
        )


class Forbidden(TodoError):
    """The caller is identified but not allowed to do this."""


class AuthenticationFailed(TodoError):
    """Missing, malformed, expired or wrong credentials."""


class QuotaExceeded(Forbidden):
    """The account already holds as many of ``resource`` as it may (``limit``)."""

    def __init__(self, resource: str, limit: int) -> None:
        super().__init__(f"quota exceeded: an account may hold at most {limit} {resource}; delete some to make room")
        self.resource = resource
        self.limit = limit


class TooManyAttempts(TodoError):
    """Sign-in attempts from this address or for this account are throttled for a while."""

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = max(1, retry_after_seconds)
