"""Dependencies shared by the route handlers."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter

from todostack.delivery.http.auth import principal_of
from todostack.delivery.http.services import Services
from todostack.domain import Principal

__all__ = ["IdempotencyKey", "IfMatch", "IfNoneMatch", "dependencies"]

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Retrying with the same key returns the original result instead of creating again.",
        required=False,
    ),
]
IfMatch = Annotated[
    str | None,
    HeaderParameter(name="If-Match", description="Apply only if the ETag still matches (else 412).", required=False),
]
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(name="If-None-Match", description="Answer 304 if the ETag still matches.", required=False),
]


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def _principal(request: Request[Any, Any, Any], services: NamedDependency[Services]) -> Principal:
    # ``services`` is unused, on purpose: it makes this dependency depend on that one. Litestar
    # resolves dependencies of the same depth concurrently, in an anyio task group (two tasks and
    # a cancel scope per request); one after the other they cost nothing of the sort.
    return principal_of(request)


dependencies = {
    "services": Provide(_services, sync_to_thread=False),
    "principal": Provide(_principal, sync_to_thread=False),
}
