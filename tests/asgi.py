"""An ASGI app served in-process, in the test's own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from litestar import Litestar

__all__ = ["Client", "serving"]


class Client(httpx.AsyncClient):
    """httpx in the test's own event loop, with the app at hand."""

    def __init__(self, app: Litestar) -> None:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
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

    runner = asyncio.create_task(lifespan())
    await started.wait()
    try:
        async with Client(app) as http:
            yield http
    finally:
        stop.set()
        await runner
