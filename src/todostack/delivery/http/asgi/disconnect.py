"""Notice a client that goes away mid-request, so its work can be cancelled.

ASGI reports a disconnect only through ``receive()``, and only to someone calling it. Once a
request has run for a little while (fast requests never pay for this), a watcher task becomes the
only reader of ``receive``: it hands body messages to the app through a one-slot queue and, when
``http.disconnect`` arrives, cancels the request's context with cause ``client_disconnected``.

It also knows where the request body stands: a disconnect before the body's last chunk (the
server's answer to malformed chunked framing, or a connection cut mid-body) is the client's
mistake, raised as ``IncompleteBody`` (400) rather than the framework's 500; and whether the app
is waiting for body bytes, so a deadline that passes then is a client too slow to send (408).
"""

from __future__ import annotations

import asyncio

from litestar.types import Receive, ReceiveMessage

from todostack.context import Cause, RequestContext

__all__ = ["DisconnectWatch", "IncompleteBody"]

_DISCONNECT: ReceiveMessage = {"type": "http.disconnect"}


class IncompleteBody(Exception):
    """The request body ended before its framing said it would."""

    detail = (
        "the request body ended before its framing said it would "
        "(malformed chunked encoding, or the connection closed mid-body)"
    )


class DisconnectWatch:
    __slots__ = (
        "_app_reading",
        "_body_done",
        "_ctx",
        "_disconnected",
        "_inbox",
        "_receive",
        "_start_pending",
        "_task",
        "_waiting",
    )

    def __init__(self, receive: Receive, ctx: RequestContext) -> None:
        self._receive = receive
        self._ctx = ctx
        self._task: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[ReceiveMessage] | None = None
        self._disconnected = False
        self._app_reading = False
        self._start_pending = False
        self._body_done = False
        self._waiting = False  # the app is inside receive()

    @property
    def awaiting_body(self) -> bool:
        """Is the app waiting for body bytes that have not come yet?"""
        return self._waiting and not self._body_done

    async def receive(self) -> ReceiveMessage:
        """The ``receive`` the app sees."""
        self._waiting = True
        message = await self._next()  # when cancelled, it stays "waiting": what the 408 needs to know
        self._waiting = False
        if message["type"] == "http.request":
            if not message.get("more_body", False):
                self._body_done = True
        elif message["type"] == "http.disconnect" and not self._body_done:
            self._body_done = True  # said once; whoever reads again learns of the disconnect
            raise IncompleteBody(IncompleteBody.detail)
        return message

    async def _next(self) -> ReceiveMessage:
        if self._inbox is not None:
            if self._disconnected and self._inbox.empty():
                return _DISCONNECT
            return await self._inbox.get()
        self._app_reading = True
        try:
            message = await self._receive()
        finally:
            self._app_reading = False
        if message["type"] == "http.disconnect":
            self._disconnected = True
        elif self._start_pending:
            self.start()
        return message

    def start(self) -> None:
        """Begin watching (called by a timer once the request is no longer quick)."""
        if self._task is not None or self._disconnected:
            return
        if self._app_reading:
            # Two readers of one receive would steal each other's messages: start after.
            self._start_pending = True
            return
        self._inbox = asyncio.Queue(maxsize=1)
        self._task = asyncio.get_running_loop().create_task(self._watch(self._inbox), name="todostack-disconnect")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _watch(self, inbox: asyncio.Queue[ReceiveMessage]) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._disconnected = True
                if inbox.empty():
                    inbox.put_nowait(message)  # wakes an app waiting for more body
                self._ctx.cancel(Cause.CLIENT_DISCONNECTED)
                return
            await inbox.put(message)  # waits while the app has not taken the previous one
