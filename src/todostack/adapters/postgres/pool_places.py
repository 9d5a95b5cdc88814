"""The pool's places: the connections it holds (the idle stack, the lent set, the waiters), how
its places are filled (at start, and in the background after an outage), handed on, trimmed when
idle, and closed. ``pool.ConnectionPool`` lends them; see its module for why the pool is ours."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import asyncpg

__all__ = ["Connect", "Connection", "PoolPlaces"]

Connection: TypeAlias = "asyncpg.Connection[Any]"
Connect: TypeAlias = Callable[[], Awaitable["asyncpg.Connection[Any]"]]
log = logging.getLogger("todostack.db.pool")
REFILL_FIRST_DELAY_S = 0.1
REFILL_MAX_DELAY_S = 2.0


class PoolPlaces:
    def __init__(
        self,
        connect: Connect,
        *,
        min_size: int = 1,
        max_size: int = 10,
        max_idle_seconds: float = 300.0,
        settle_timeout: float = 10.0,
    ) -> None:
        if not 0 <= min_size <= max_size or max_size < 1:
            raise ValueError(f"need 0 <= min_size <= max_size and max_size >= 1, got {min_size} and {max_size}")
        self._connect = connect
        self.min_size = min_size
        self.max_size = max_size
        self.max_idle_seconds = max_idle_seconds
        self.settle_timeout = settle_timeout
        self._idle: list[tuple[Connection, float]] = []  # (connection, idle since): the top is the warmest
        self._lent: set[Connection] = set()
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()  # None: a place to open one in
        self._places = 0  # connections open or opening: at most max_size
        self._closed = False
        self._trimmer: asyncio.Task[None] | None = None
        self._refill: asyncio.Task[None] | None = None
        self._settling: set[asyncio.Task[None]] = set()  # returns being settled, closes under way
        self._all_back = asyncio.Event()  # closing: set when nothing is lent or being settled

    async def open(self, *, tolerate: Callable[[BaseException], bool] | None = None) -> None:
        """Open ``min_size`` connections. An unreachable server fails here, at start-up, unless
        ``tolerate`` accepts the error: the pool then starts empty and keeps trying in the
        background, with backoff (requests meanwhile connect on demand, or fail fast)."""
        try:
            await self._open_min()
        except Exception as exc:
            if tolerate is None or not tolerate(exc):
                raise
            log.warning("the database is not reachable yet (%s); retrying in the background", type(exc).__name__)
            self._refill = asyncio.create_task(self._refill_forever(), name="todostack-db-pool-refill")
        if self.max_idle_seconds > 0:
            self._trimmer = asyncio.create_task(self._trim_forever(), name="todostack-db-pool-trim")

    async def _open_min(self) -> None:
        for _ in range(self.min_size):
            self._places += 1
            try:
                conn = await self._connect()
            except BaseException:
                for opened, _ in self._idle:  # the ones that did open are not left behind
                    opened.terminate()
                self._idle.clear()
                self._places = 0
                raise
            self._idle.append((conn, time.monotonic()))

    def ensure_min_size(self) -> None:
        """Fewer than ``min_size`` connections open (the server restarted, say): open them in the
        background, with backoff. A readiness probe calls this, so that a probe giving up on a
        slow connect (it waits well under a second) does not throw away the connection each time."""
        if self._closed or self._places >= self.min_size:
            return
        if self._refill is None or self._refill.done():
            self._refill = asyncio.create_task(self._refill_forever(), name="todostack-db-pool-refill")

    async def _refill_forever(self) -> None:
        """Open connections until ``min_size`` are open, waiting longer after each failure."""
        delay = REFILL_FIRST_DELAY_S
        while not self._closed and self._places < self.min_size:
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not secrets
            self._places += 1
            try:
                conn = await self._connect()
            except Exception:  # noqa: BLE001 - the server is still away: wait longer
                self._places -= 1
                self._free_place()
                delay = min(REFILL_MAX_DELAY_S, delay * 2)
                continue
            if self._closed:
                self._places -= 1
                conn.terminate()
                return
            self._put(conn)
            delay = REFILL_FIRST_DELAY_S
        log.info("the database is reachable again")

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def in_use(self) -> int:
        return len(self._lent)

    @property
    def waiting(self) -> int:
        return sum(1 for f in self._waiters if not f.done())

    def _put(self, conn: Connection) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._lent.add(conn)
                waiter.set_result(conn)
                return
        if self._closed:
            self._places -= 1
            self._close_soon(conn)  # _settled tells close() once it is done
            return
        self._idle.append((conn, time.monotonic()))

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._settling.discard(task)
        if self._closed and not self._lent and not self._settling:
            self._all_back.set()

    def _free_place(self) -> None:
        """A connection's place came free: the longest waiter may open one in it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._places += 1
                waiter.set_result(None)
                return

    # -- idle connections and closing -------------------------------------------------------------

    def trim(self, now: float | None = None) -> int:
        """Close connections idle for longer than ``max_idle_seconds``, keeping ``min_size`` open.

        The coldest sit at the bottom of the stack. Returns how many were closed.
        """
        now = time.monotonic() if now is None else now
        closed = 0
        while self._idle and self._places > self.min_size and now - self._idle[0][1] > self.max_idle_seconds:
            conn = self._idle.pop(0)[0]
            self._places -= 1
            self._close_soon(conn)
            closed += 1
        return closed

    async def _trim_forever(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.max_idle_seconds / 4))
            self.trim()

    def _close_soon(self, conn: Connection) -> None:
        task = asyncio.create_task(self._close_one(conn))
        self._settling.add(task)
        task.add_done_callback(self._settled)

    async def _close_one(self, conn: Connection) -> None:
        try:
            await conn.close(timeout=self.settle_timeout)
        except (Exception, asyncio.CancelledError):  # noqa: BLE001 - closing anyway: the hard way
            conn.terminate()

    async def close(self, grace_seconds: float = 10.0) -> None:
        """Refuse new checkouts, wait up to ``grace_seconds`` for lent connections, then close all."""
        self._closed = True
        for background in (self._trimmer, self._refill):
            if background is not None:
                background.cancel()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(asyncpg.InterfaceError("the connection pool is closed"))
        self._waiters.clear()
        if self._lent or self._settling:
            self._all_back.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace_seconds):
                    await self._all_back.wait()
        for conn in self._lent:
            conn.terminate()
        self._lent.clear()
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._close_one(conn) for conn, _ in idle))
        self._places = 0
