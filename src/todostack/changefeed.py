"""One worker's change feed: the hub's pump, and how it hears of changes other workers made.

On PostgreSQL this worker numbers the changes its own writes made as soon as they commit, and a
LISTEN connection hears when any worker numbered some; behind a pooler with no direct URL, changes
are numbered through the pool (after this worker's writes, and each second for everyone else's).
``worker`` starts this and stops it with the services.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from todostack.adapters.postgres import PgChangeListener
from todostack.adapters.storage import Storage
from todostack.runtime import Settings
from todostack.usecases import ChangeHub

__all__ = ["feed_running"]

log = logging.getLogger("todostack.feed")


@asynccontextmanager
async def feed_running(settings: Settings, feed: ChangeHub, store: Storage) -> AsyncIterator[None]:
    """The change feed's pump (and, on PostgreSQL, its LISTEN connection) for this worker."""
    runs = [feed.run()]
    if settings.database.dialect == "postgresql":
        listen_url = settings.feed.listen_url
        if listen_url is None and settings.database.prepared_statements:
            listen_url = settings.database.url
        if listen_url is not None:
            runs.append(
                PgChangeListener(listen_url, feed.poke, fallback_seconds=feed.poll_seconds, wrote=store.wrote).run()
            )
        elif store.number_changes is not None:
            # Behind PgBouncer (transaction pooling) with no direct URL: LISTEN cannot work through
            # the pooler, so number and look for changes through the pool, once a second.
            log.warning("change feed: no TODOSTACK_FEED_LISTEN_URL behind a pooler; polling the outbox each second")
            runs.append(_number_changes_forever(store.number_changes, feed.poke, 1.0, store.wrote))
    tasks = [asyncio.create_task(run, name="todostack-feed") for run in runs]
    try:
        yield
    finally:
        feed.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _number_changes_forever(
    number: Callable[[], Awaitable[int]], wake: Callable[[], None], every: float, wrote: asyncio.Event | None
) -> None:
    wrote = wrote if wrote is not None else asyncio.Event()
    while True:
        wrote.clear()
        try:
            if await number():
                wake()
        except Exception:
            log.warning("change feed: numbering changes through the pool failed", exc_info=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(every):
                await wrote.wait()
