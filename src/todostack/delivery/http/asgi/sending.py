"""JSON responses sent the short way: the hot routes' bodies and headers, ready to send.

Litestar turns each ``Response`` into an ``ASGIResponse``: it merges layer headers and cookies,
builds a ``MutableScopeHeaders`` and sets ``content-type`` and ``content-length`` through a
``MutableMapping`` (``setdefault``), then sends. That was 14 % of a ``get-one`` request's CPU
in-process (py-spy, ``docs/benchmarks.md``). ``JsonResponse`` is a ``Response`` in every other
way; when there is nothing to merge (no cookies, no background task, no layer headers, not a
HEAD, a body to send) it encodes the body as Litestar would and sends it with the same headers,
in the same order, from a list built once. Anything else takes Litestar's own path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from litestar import MediaType, Response
from litestar.serialization import get_serializer

if TYPE_CHECKING:
    from collections.abc import Iterable

    from litestar.app import Litestar
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.connection import Request
    from litestar.datastructures import Cookie
    from litestar.types import ASGIApp, Receive, Scope, Send, TypeEncodersMap

__all__ = ["JsonResponse"]

T = TypeVar("T")
_JSON = (b"content-type", b"application/json")


class _Prepared:
    """An ASGI app that sends one finished response."""

    __slots__ = ("_body", "_headers", "_status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self._status = status
        self._headers = headers
        self._body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self._status, "headers": self._headers})
        await send({"type": "http.response.body", "body": self._body, "more_body": False})


class JsonResponse(Response[T]):
    def to_asgi_response(  # type: ignore[override]  # an ASGI app, not necessarily an ASGIResponse
        self,
        app: Litestar | None,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIApp:
        status = self.status_code or status_code or 200
        if (
            self.content is None
            or status < 200
            or status in (204, 304)
            or is_head_response
            or self.background is not None
            or background is not None
            or self.cookies
            or cookies
            or encoded_headers
            or headers
            or (self.media_type or media_type or MediaType.JSON) != MediaType.JSON
        ):
            return super().to_asgi_response(
                app,
                request,
                background=background,
                cookies=cookies,
                encoded_headers=encoded_headers,
                headers=headers,
                is_head_response=is_head_response,
                media_type=media_type,
                status_code=status_code,
                type_encoders=type_encoders,
            )
        encoders = {**type_encoders, **(self.response_type_encoders or {})} if type_encoders else None
        body = self.render(self.content, MediaType.JSON, get_serializer(encoders or self.response_type_encoders))
        raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()]
        raw.append(_JSON)
        raw.append((b"content-length", str(len(body)).encode()))
        return _Prepared(status, raw, body)
