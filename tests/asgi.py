"""An ASGI app served in-process, in the test's own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from litestar import Litestar

from tests.loopwatch import setting_up

__all__ = ["Client", "serving"]


class _OneStepPerRequest(httpx.ASGITransport):
    """``httpx.ASGITransport`` that lets the loop run once before each request.

    In process, against the memory backend, nothing in a request really waits: without this, a
    test that sends thirty requests in a row runs them all in one step of its task, and the
    blocked-loop check (``tests/conftest.py``) sees one callback of 100+ ms (under coverage) that
    no served request would ever be. A server reads each request from a socket: one step each."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        return await super().handle_async_request(request)


class Client(httpx.AsyncClient):
    """httpx in the test's own event loop, with the app at hand."""

    def __init__(self, app: Litestar) -> None:
        transport = _OneStepPerRequest(app=app)  # type: ignore[arg-type]
        super().__init__(transport=transport, base_url="http://testserver")
        self.app = app


@asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[Client]:
    """httpx to ``app``; the lifespan runs in a task of its own, because pytest-asyncio sets
    fixtures up and tears them down in different tasks (and anyio's scopes refuse that)."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    with setting_up():  # the blocked-loop check watches requests, not start-up and shut-down
        runner = asyncio.create_task(lifespan())
        await started.wait()
    try:
        async with Client(app) as http:
            yield http
    finally:
        stop.set()
        with setting_up():
            await runner
