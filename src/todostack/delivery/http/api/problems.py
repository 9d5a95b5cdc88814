"""One mapping from errors to RFC 9457 problem+json responses (statuses: ``asgi.problem.STATUSES``)."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    SerializationException,
    ValidationException,
)
from litestar.types import ExceptionHandlersMap

from todostack import context
from todostack.context import Cancelled, Cause, DeadlineExceeded, Overloaded, StorageFull, Unavailable
from todostack.delivery.http.asgi.disconnect import IncompleteBody
from todostack.delivery.http.asgi.problem import CAUSE_STATUS, PROBLEM_JSON, FieldProblem, Problem, problem_body
from todostack.domain import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    PreconditionFailed,
    QuotaExceeded,
    TodoError,
    TooManyAttempts,
)
from todostack.observability.tracing import Tracing

__all__ = ["QUOTA_PROBLEM", "exception_handlers", "problem_response"]

log = logging.getLogger("todostack.http")

# Most specific first: the first matching class decides.
_DOMAIN_STATUS: list[tuple[type[TodoError], int]] = [
    (PreconditionFailed, 412),
    (NotFound, 404),
    (Conflict, 409),
    (Invalid, 422),
    (Forbidden, 403),
    (AuthenticationFailed, 401),
    (TooManyAttempts, 429),
]
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A write that ended this way may have been committed or not: the answer says so ("outcome").
_UNKNOWN_OUTCOME = (DeadlineExceeded, Unavailable)
WWW_AUTHENTICATE = 'Bearer realm="todostack"'
QUOTA_PROBLEM = "urn:todostack:problem:quota-exceeded"


def problem_response(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    *,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
    cause: Cause | None = None,
    outcome: str | None = None,
) -> Response[Problem]:
    body = problem_body(status, detail, request.url.path, errors=errors, cause=cause, outcome=outcome)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _cancelled(request: Request[Any, Any, Any], exc: Cancelled) -> Response[Problem]:
    ctx = context.current()
    if ctx is not None:
        ctx.record(exc.cause)
    status = CAUSE_STATUS.get(exc.cause, 503)
    headers = None
    if isinstance(exc, Overloaded | Unavailable | StorageFull):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    outcome = None
    if isinstance(exc, _UNKNOWN_OUTCOME) and request.method not in _SAFE_METHODS:
        outcome = "unknown"
    return problem_response(request, status, exc.detail, headers=headers, cause=exc.cause, outcome=outcome)


def _domain_error(request: Request[Any, Any, Any], exc: TodoError) -> Response[Problem]:
    status = 500
    for cls, code in _DOMAIN_STATUS:
        if isinstance(exc, cls):
            status = code
            break
    errors = [FieldProblem(e.field, e.message) for e in exc.errors] if isinstance(exc, Invalid) else None
    headers = {"WWW-Authenticate": WWW_AUTHENTICATE} if status == 401 else None
    if isinstance(exc, PreconditionFailed) and exc.current_version is not None:
        headers = {"ETag": f'"{exc.current_version}"'}
    if isinstance(exc, TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    response = problem_response(request, status, exc.detail, errors=errors, headers=headers)
    if isinstance(exc, QuotaExceeded):
        # Its own problem type, so that clients can tell "over quota" from other refusals.
        response.content = msgspec.structs.replace(response.content, type=QUOTA_PROBLEM)
    return response


def _validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            key = str(item.get("key") or item.get("source") or "request")
            errors.append(FieldProblem(key, str(item.get("message", "is invalid"))))
    fields = ", ".join(sorted({e.field for e in errors})) or "the request"
    return problem_response(request, 422, f"invalid value for: {fields}", errors=errors)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    if isinstance(exc, ValidationException):
        return _validation_error(request, exc)
    status = exc.status_code
    headers = dict(exc.headers or {})
    detail = exc.detail
    if isinstance(exc, NotAuthorizedException):
        headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    elif isinstance(exc.__cause__, SerializationException):
        detail = "the request body is not valid JSON"
    elif status == 404:
        detail = f"no route for {request.method} {request.url.path}"
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    elif status == 413:
        detail = "the request body is larger than the limit of 1 MiB"
    return problem_response(request, status, detail, headers=headers or None)


def _incomplete_body(request: Request[Any, Any, Any], exc: IncompleteBody) -> Response[Problem]:
    return problem_response(request, 400, IncompleteBody.detail)


def exception_handlers(tracing: Tracing) -> ExceptionHandlersMap:
    """The handlers, one per kind of error; an unexpected one is also recorded on the request's span."""

    def unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        tracing.record_exception(exc)
        return problem_response(request, 500, "the server failed to handle this request; it has been logged")

    return {
        TodoError: _domain_error,
        Cancelled: _cancelled,
        HTTPException: _http_error,
        IncompleteBody: _incomplete_body,
        Exception: unexpected,
    }
