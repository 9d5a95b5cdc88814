"""OPTIONS answers that list every method a path supports.

Litestar's automatic OPTIONS handler lists only the methods of the first handler registered
on a path (``Allow: GET, OPTIONS`` for a path that also takes POST).
"""

from __future__ import annotations

from collections.abc import Sequence

from litestar import Response, route
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler

__all__ = ["with_options"]


def _answer(path: str, allow: str) -> HTTPRouteHandler:
    async def options() -> Response[None]:
        return Response(None, status_code=204, headers={"Allow": allow})

    return route(
        path,
        http_method=HttpMethod.OPTIONS,
        include_in_schema=False,
        name=f"options {path}",
        exclude_from_auth=True,
    )(options)


def with_options(handlers: Sequence[HTTPRouteHandler]) -> list[HTTPRouteHandler]:
    """``handlers`` plus one OPTIONS handler per path; register them in the same router."""
    allowed: dict[str, set[str]] = {}
    for handler in handlers:
        for path in handler.paths:
            allowed.setdefault(path, set()).update(str(m) for m in handler.http_methods)
    answers = [_answer(path, ", ".join(sorted(methods | {"OPTIONS"}))) for path, methods in allowed.items()]
    # First: a path whose first handler is OPTIONS never gets Litestar's automatic one.
    return [*answers, *handlers]
