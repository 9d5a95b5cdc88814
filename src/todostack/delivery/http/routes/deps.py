"""Dependencies shared by the route handlers."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.params import HeaderParameter

from todostack.delivery.http.auth import principal_of
from todostack.delivery.http.services import Services

__all__ = ["IdempotencyKey", "IfMatch", "IfNoneMatch", "principal_of", "services_of"]

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


def services_of(request: Request[Any, Any, Any]) -> Services:
    """The worker's use cases, which its lifespan put on the app's state.

    Read directly by each handler rather than injected: Litestar resolves a dependency on every
    request (a signature model per provider), about 10 µs for the two each handler had.
    """
    services: Services = request.app.state.services
    return services
