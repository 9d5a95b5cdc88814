"""One request's exchange with the client (the ``send`` the app sees) and its one timer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec

from todostack.context import Cause, RequestContext
from todostack.delivery.http.asgi.answers import Compression, add_vary, encoded, finish_headers
from todostack.delivery.http.asgi.disconnect import DisconnectWatch
from todostack.delivery.http.asgi.problem import PROBLEM_JSON, problem_body
from todostack.delivery.http.asgi.types import HeaderDecorator, Message, Scope, Send

__all__ = ["CAUSE_DETAIL", "Exchange", "Timer"]

_encode = msgspec.json.Encoder().encode


class Exchange:
    """The ``send`` the app sees: adds the request id, any headers ``decorate`` gives for this
    path and content, and those every answer carries (``answers``); compresses when it pays;
    sends a ``HEAD`` answer's headers without its body; remembers the status."""

    __slots__ = (
        "_compression",
        "_decorate",
        "_draining",
        "_gzip",
        "_head",
        "_held",
        "_https",
        "_path",
        "_send",
        "request_id",
        "started",
        "status",
    )

    def __init__(
        self,
        send: Send,
        request_id: str,
        path: str = "",
        decorate: HeaderDecorator | None = None,
        *,
        https: bool = False,
        head: bool = False,
        gzip: bool = False,
        compression: Compression | None = None,
        draining: Callable[[], bool] | None = None,
    ) -> None:
        self._send = send
        self._draining = draining
        self.request_id = request_id
        self._path = path
        self._decorate = decorate
        self._https = https
        self._head = head
        self._gzip = gzip
        self._compression = compression
        self._held: Message | None = None  # a start held until the body shows whether to compress
        self.started = False
        self.status = 500

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.started = True
            self.status = message["status"]
            headers = [*message.get("headers", ()), (b"x-request-id", self.request_id.encode())]
            if self._decorate is not None:
                headers = self._decorate(self._path, headers)
            if self._draining is not None and self._draining():
                # Shutting down: the client opens a new connection (to a pod that stays) for its
                # next request, instead of sending it on this one as the server closes it.
                headers.append((b"connection", b"close"))
            message["headers"] = finish_headers(headers, self._https)
            compression = self._compression
            if compression is not None and compression.eligible(self.status, message["headers"]):
                add_vary(message["headers"], b"Accept-Encoding")
                if self._gzip:
                    self._held = message
                    return
        elif kind == "http.response.body":
            held = self._held
            if held is not None:
                self._held = None
                body = message.get("body", b"")
                compression = self._compression
                if (
                    not message.get("more_body", False)
                    and compression is not None
                    and len(body) >= compression.min_bytes
                ):
                    packed = compression.compress(body)
                    if len(packed) < len(body):
                        held["headers"] = encoded(held["headers"], len(packed))
                        message = {"type": kind, "body": packed, "more_body": False}
                await self._send(held)
            if self._head:  # RFC 9110 §9.3.2: the GET answer's headers, no content
                message = {"type": kind, "body": b"", "more_body": message.get("more_body", False)}
        await self._send(message)

    async def problem(
        self,
        scope: Scope,
        status: int,
        detail: str,
        *,
        cause: Cause | None = None,
        retry_after: int | None = None,
        outcome: str | None = None,
    ) -> None:
        body = _encode(
            problem_body(status, detail, scope["path"], cause=cause, request_id=self.request_id, outcome=outcome)
        )
        headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
        if retry_after is not None:
            headers.append((b"retry-after", str(retry_after).encode()))
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})


CAUSE_DETAIL = {
    Cause.DEADLINE_EXCEEDED: "the request did not finish within its time budget",
    Cause.SHUTDOWN: "the server is shutting down and could not finish this request; retry it",
    Cause.OVERLOADED: "the server is at capacity; retry shortly",
}


class Timer:
    """One timer per request: whichever comes first of starting the disconnect watch and the
    deadline; starting the watch arms it again for the deadline. (Two timers per request cost a
    heap entry each, and most requests end before either.)"""

    __slots__ = ("_ctx", "_handle", "_loop", "_watch", "_watch_at")

    def __init__(self, loop: asyncio.AbstractEventLoop, ctx: RequestContext, watch: DisconnectWatch, watch_at: float):
        self._loop = loop
        self._ctx = ctx
        self._watch: DisconnectWatch | None = watch
        self._watch_at = watch_at
        self._handle: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        deadline = self._ctx.deadline
        if self._watch is not None and (deadline is None or self._watch_at < deadline):
            self._handle = self._loop.call_at(self._watch_at, self._start_watch)
        elif deadline is not None:
            self._handle = self._loop.call_at(deadline, self._ctx.cancel, Cause.DEADLINE_EXCEEDED)
        else:
            self._handle = None

    def _start_watch(self) -> None:
        watch, self._watch = self._watch, None
        assert watch is not None
        watch.start()
        self._arm()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
