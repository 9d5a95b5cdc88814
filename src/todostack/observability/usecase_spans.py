"""A span around each use case call, a child of the request's: the use case's name and the ids
it was called with as attributes (never a title, a note or any other text)."""

from __future__ import annotations

import functools
import inspect
from typing import Any, TypeVar, cast

from opentelemetry import trace

from todostack.observability.tracing import Tracing

__all__ = ["traced"]

T = TypeVar("T")

_ID_PARAMETERS = ("todo_id", "list_id", "todo_ids")


def traced(tracing: Tracing, service: T, component: str) -> T:
    """``service`` with a span around each public coroutine method (ids as attributes, no text);
    ``service`` itself while tracing is off."""
    if tracing.tracer is None:
        return service
    return cast(T, _TracedService(tracing, service, component))


class _TracedService:
    def __init__(self, tracing: Tracing, inner: object, component: str) -> None:
        self._tracing = tracing
        self._inner = inner
        self._component = component

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith("_"):
            return attr
        if not inspect.iscoroutinefunction(attr) or name in getattr(self._inner, "untraced", ()):
            # Kept, like the wrappers below: a sync method (the token check, on every request)
            # would otherwise come back through here and inspect each time.
            setattr(self, name, attr)
            return attr
        signature = inspect.signature(attr)
        usecase = f"{self._component}.{name}"
        tracing = self._tracing

        @functools.wraps(attr)
        async def call(*args: Any, **kwargs: Any) -> Any:
            tracer = tracing.tracer
            if tracer is None or not trace.get_current_span().is_recording():
                return await attr(*args, **kwargs)
            attributes: dict[str, str] = {"todostack.usecase": usecase}
            bound = signature.bind_partial(*args, **kwargs).arguments
            for key in _ID_PARAMETERS:
                if isinstance(bound.get(key), str):
                    attributes[f"todostack.{key}"] = bound[key]
            principal = bound.get("principal")
            user_id = getattr(principal, "user_id", None)
            if isinstance(user_id, str):
                attributes["enduser.id"] = user_id
            with tracer.start_as_current_span(usecase, attributes=attributes):
                return await attr(*args, **kwargs)

        setattr(self, name, call)  # wrap once
        return call
