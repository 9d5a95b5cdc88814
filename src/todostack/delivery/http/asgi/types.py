"""Plain ASGI types, in one place: this wing wraps the whole application, below Litestar's own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeAlias

__all__ = ["ASGIApp", "HeaderDecorator", "Message", "RawHeaders", "Receive", "Scope", "Send"]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Any]]
Send: TypeAlias = Callable[[Any], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]
RawHeaders: TypeAlias = list[tuple[bytes, bytes]]
# (request path, the response's headers) -> the headers to send: one call per response, no await.
HeaderDecorator: TypeAlias = Callable[[str, RawHeaders], RawHeaders]
