"""The change feed's wake-up on PostgreSQL: LISTEN on a dedicated connection, and the sequencer.

Each worker holds one connection of its own for this, outside the pool and never through
PgBouncer (a transaction-pooling bouncer cannot keep a LISTEN): ``TODOSTACK_FEED_LISTEN_URL``
names the server directly when the pool's URL goes through a bouncer.

The triggers of migration 0030 write a change beside every write; they do not notify (0031:
PostgreSQL commits notifying transactions one at a time). The worker whose write committed wakes
its own listener (``wrote``), which numbers every committed change that has no id yet
(``sequence``), under a transaction-level advisory lock so that one worker at a time does it, and
that transaction notifies ``numbered``: every worker's hub then reads the new changes. A worker
that finds the lock taken tries again shortly, so a change is numbered by a run that started
after it committed. Writes made outside the service (or by a server of an older version, whose
trigger still notifies ``written``) are numbered on the fallback timer, or at once on ``written``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import asyncpg

from todostack.adapters.postgres.unavailable import keep_alive

__all__ = ["CHANNEL", "PgChangeListener", "sequence"]

log = logging.getLogger("todostack.feed")

CHANNEL = "todostack_changes"
# pg_try_advisory_xact_lock(key, hashtext(current_schema())): one sequencer per schema.
_SEQUENCER_LOCK = 0x66656564  # "feed"
_BATCH = 10_000
_NUMBER = f"""
WITH todo AS (
    SELECT pos FROM changes WHERE id IS NULL ORDER BY pos LIMIT {_BATCH}
), numbered AS (
    SELECT pos, nextval('changes_id_seq') AS id FROM todo ORDER BY pos
), done AS (
    UPDATE changes c SET id = numbered.id FROM numbered WHERE c.pos = numbered.pos RETURNING c.id
)
SELECT count(*) FROM done
"""


async def sequence(conn: asyncpg.Connection[Any], *, retry_seconds: float = 0.05) -> int:
    """Number the committed changes that have no id yet, in insertion order; return how many.

    Waits (briefly, in turns) while another worker numbers: its run may have started before
    the change that woke this one committed."""
    total = 0
    while True:
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM changes WHERE id IS NULL)"):
            return total
        async with conn.transaction():
            if await conn.fetchval("SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema()))", _SEQUENCER_LOCK):
                count = int(await conn.fetchval(_NUMBER))
                if count:
                    await conn.execute(f"NOTIFY {CHANNEL}, 'numbered'")
                total += count
                if count < _BATCH:
                    return total
                continue
        await asyncio.sleep(retry_seconds)


class PgChangeListener:
    """Keeps a LISTEN connection open (reconnecting), numbers changes, and calls ``wake`` when
    there are new numbered changes to read (and after every reconnect, when some may have been
    missed)."""

    def __init__(
        self,
        url: str,
        wake: Callable[[], None],
        *,
        fallback_seconds: float = 5.0,
        wrote: asyncio.Event | None = None,
    ) -> None:
        self._url = url
        self._wake = wake
        self._fallback = fallback_seconds
        # Set by this worker's committed writes: there are changes to number.
        self._pending = wrote if wrote is not None else asyncio.Event()
        self.connected = asyncio.Event()

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self._serve()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("the change feed's LISTEN connection failed (%r); reconnecting", exc)
            self.connected.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _serve(self) -> None:
        conn: asyncpg.Connection[Any] = await asyncpg.connect(self._url, timeout=5.0)
        keep_alive(conn)
        try:
            pending = self._pending
            lost = asyncio.Event()

            def on_note(_conn: object, _pid: int, _channel: str, payload: object) -> None:
                if payload == "numbered":
                    self._wake()
                else:
                    pending.set()

            def on_lost(_conn: object) -> None:
                lost.set()
                pending.set()

            conn.add_termination_listener(on_lost)
            await conn.add_listener(CHANNEL, on_note)
            self.connected.set()
            pending.set()  # what was written while no one listened
            self._wake()
            while not lost.is_set():
                with suppress(TimeoutError):
                    async with asyncio.timeout(self._fallback):
                        await pending.wait()
                # On the fallback timer too: a notification lost with a dropped connection.
                pending.clear()
                await sequence(conn)
        finally:
            conn.terminate()
