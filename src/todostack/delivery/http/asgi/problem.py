"""RFC 9457 problem+json: the wire format of every error answer, and the one table of statuses.

The plumbing answers some requests itself (400 for a bad ``Request-Timeout``, 503 when shedding
load, 504 past the deadline); the API's error mapping and its OpenAPI descriptions read the same
table, so a status has one title, one slug and one description.
"""

from __future__ import annotations

from typing import Annotated, NamedTuple

from msgspec import Meta, Struct

from todostack import context
from todostack.context import Cause

__all__ = ["CAUSE_STATUS", "PROBLEM_JSON", "STATUSES", "FieldProblem", "Problem", "Status", "problem_body"]

PROBLEM_JSON = "application/problem+json"


# Bounds of what a problem carries (``problem_body`` cuts longer texts: a detail may quote a path).
TEXT_MAX = 2000
ERRORS_MAX = 100


class FieldProblem(Struct):
    field: Annotated[str, Meta(max_length=TEXT_MAX)]
    message: Annotated[str, Meta(max_length=TEXT_MAX)]


class Problem(Struct, omit_defaults=True):
    """RFC 9457 problem details."""

    type: Annotated[str, Meta(max_length=200, pattern=r"^urn:todostack:problem:[a-z-]+$")]
    title: Annotated[str, Meta(max_length=200)]
    status: Annotated[int, Meta(ge=100, le=599)]
    detail: Annotated[str, Meta(max_length=TEXT_MAX)]
    instance: Annotated[str, Meta(max_length=TEXT_MAX)] | None = None
    errors: Annotated[list[FieldProblem], Meta(max_length=ERRORS_MAX)] | None = None
    cause: Annotated[str, Meta(max_length=64)] | None = None
    request_id: Annotated[str, Meta(max_length=128)] | None = None
    # "unknown": a write cut off (deadline, shutdown, database lost) may or may not have been
    # committed; retrying it with the same Idempotency-Key is safe either way.
    outcome: Annotated[str, Meta(max_length=16)] | None = None


class Status(NamedTuple):
    title: str
    slug: str  # the problem type is urn:todostack:problem:<slug>
    description: str  # what the API documents this answer to mean


STATUSES: dict[int, Status] = {
    400: Status("Bad Request", "bad-request", "Malformed request (for example a body that is not JSON)"),
    401: Status("Unauthorized", "unauthenticated", "Missing, invalid or expired bearer token"),
    403: Status("Forbidden", "forbidden", "Not allowed (for example a cross-site write with a session cookie)"),
    404: Status("Not Found", "not-found", "No such resource, or it belongs to someone else"),
    405: Status("Method Not Allowed", "method-not-allowed", "The path does not take this method"),
    408: Status("Request Timeout", "request-timeout", "The request body did not arrive within the time budget"),
    409: Status("Conflict", "conflict", "Conflicts with the current state"),
    412: Status("Precondition Failed", "precondition-failed", "If-Match did not match the current ETag"),
    413: Status("Content Too Large", "content-too-large", "Request body over 1 MiB"),
    415: Status("Unsupported Media Type", "unsupported-media-type", "Body is not application/json"),
    422: Status("Unprocessable Content", "validation-error", "Validation failed; `errors` lists every bad field"),
    429: Status("Too Many Requests", "error", "Too many requests"),
    500: Status("Internal Server Error", "internal-error", "The server failed; the answer says nothing more"),
    503: Status("Service Unavailable", "unavailable", "Not ready to serve"),
    504: Status("Gateway Timeout", "deadline-exceeded", "The request did not finish within its time budget"),
    507: Status("Insufficient Storage", "insufficient-storage", "The server's storage is full; reads still work"),
}
_OTHER = Status("Error", "error", "")

# The status a request gets when it was cancelled for this cause.
CAUSE_STATUS = {
    Cause.DEADLINE_EXCEEDED: 504,
    Cause.OVERLOADED: 503,
    Cause.SHUTDOWN: 503,
    Cause.CLIENT_DISCONNECTED: 499,
    Cause.DATABASE_UNAVAILABLE: 503,
    Cause.STORAGE_FULL: 507,
}


def _cut(text: str) -> str:
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


def problem_body(
    status: int,
    detail: str,
    instance: str | None,
    *,
    errors: list[FieldProblem] | None = None,
    cause: Cause | None = None,
    request_id: str | None = None,
    outcome: str | None = None,
) -> Problem:
    if request_id is None:
        ctx = context.current()
        request_id = ctx.request_id if ctx is not None else None
    known = STATUSES.get(status, _OTHER)
    if errors is not None and len(errors) > ERRORS_MAX:
        errors = errors[:ERRORS_MAX]
    return Problem(
        type=f"urn:todostack:problem:{known.slug}",
        title=known.title,
        status=status,
        detail=_cut(detail),
        instance=None if instance is None else _cut(instance),
        errors=None if errors is None else [FieldProblem(_cut(e.field), _cut(e.message)) for e in errors],
        cause=cause.value if cause is not None else None,
        request_id=request_id,
        outcome=outcome,
    )
