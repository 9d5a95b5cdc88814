"""The worker's PostgreSQL connections: lent one request at a time, LIFO, without a timer.

asyncpg's own ``Pool`` does this on every checkout and return: a proxy object, a future, an
inactivity timer cancelled and armed again, a reset under a timeout, and a task
(``asyncio.shield``) to guard the return. At 16 requests in flight that was 48 µs of CPU per
``SELECT`` against 23 µs for the same statement on connections handed out from a list
(``docs/benchmarks.md``). Here:

* a checkout with a connection idle is a ``list.pop``, and a clean return is an ``append`` or a
  hand-off to the longest waiter: no await, no timer, no task. A clean return sends nothing:
  units of work end their transactions and change no session state (``statement_timeout`` is
  ``SET LOCAL``), so asyncpg's reset (``RESET ALL``, ``CLOSE ALL``, ``UNLISTEN *`` and an
  advisory unlock: a round trip per request) would buy nothing;
* only a connection that comes back *unsettled* takes the slow path: still in a transaction, or
  interrupted mid-statement (a deadline or a cancelled request: asyncpg is then cancelling the
  statement on the server). One statement (``ROLLBACK``, or ``SELECT 1``) waits for that
  cancellation to finish, so no work outlives its request, and proves the connection sound;
  anything else, and the connection is terminated and its place freed;
* waiting has no bound here: callers bound it (``bounded_wait``), and only when they must wait;
* connections idle longer than ``max_idle_seconds`` are closed (down to ``min_size``), so a
  quiet worker gives its connections back to the server;
* a request never waits for a return to settle past its own deadline, nor, once cut off, past a
  short grace (``SETTLE_GRACE_S``): the settling goes on in its own task, holding the connection's
  place (a black-holed link must not hold the answer);
* a pool that cannot open its first connections (the database is down while a worker starts)
  may start empty: a background task keeps trying, with backoff, and requests connect on demand.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

from todostack import context
from todostack.adapters.postgres.pool_places import Connect, Connection, PoolPlaces

__all__ = ["Connect", "Connection", "ConnectionPool"]

# A request cut off mid-statement waits this long for the server to stop the statement before it
# answers: on a sound link the rollback comes first (a 504'd write does not land afterwards); on a
# black-holed one the answer still leaves within its budget plus this.
SETTLE_GRACE_S = 0.5


class ConnectionPool(PoolPlaces):
    """Lends the places of ``PoolPlaces``: a checkout, a wait for a free place, a return (settled
    first when it comes back unsettled)."""

    def try_acquire(self) -> Connection | None:
        """An idle connection now, or None: the caller then waits in ``acquire``, bounded."""
        while self._idle:
            conn = self._idle.pop()[0]
            if conn.is_closed():  # the server went away while it sat here
                self._places -= 1
                continue
            self._lent.add(conn)
            return conn
        return None

    async def acquire(self) -> Connection:
        conn = self.try_acquire()
        if conn is not None:
            return conn
        if self._closed:
            raise asyncpg.InterfaceError("the connection pool is closed")
        if self._places < self.max_size:
            self._places += 1
            return await self._open_in_place()
        waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            handed = await waiter
        except BaseException:
            self._give_up(waiter)
            raise
        if handed is None:  # a place came free: open a connection in it
            return await self._open_in_place()
        return handed

    def _give_up(self, waiter: asyncio.Future[Connection | None]) -> None:
        """A waiter stops waiting (deadline, cancel): whatever it was handed goes to the next one."""
        if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            handed = waiter.result()
            if handed is None:
                self._places -= 1
                self._free_place()
            else:
                self._lent.discard(handed)
                self._put(handed)
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    async def _open_in_place(self) -> Connection:
        try:
            conn = await self._connect()
        except BaseException:
            self._places -= 1
            self._free_place()
            raise
        self._lent.add(conn)
        return conn

    # -- returning --------------------------------------------------------------------------------

    async def release(self, conn: Connection, *, interrupted: bool = False) -> None:
        """Take a connection back. ``interrupted``: a statement on it did not finish normally.

        Settling runs in its own task: a request cancelled again while it waits does not leave
        the connection half-settled.
        """
        if not interrupted and not conn.is_closed() and not conn.is_in_transaction():
            self._lent.discard(conn)
            self._put(conn)
            return
        settle = asyncio.create_task(self._settle(conn, interrupted))
        self._settling.add(settle)
        settle.add_done_callback(self._settled)
        task = asyncio.current_task()
        left = context.remaining()
        if (task is not None and task.cancelling()) or (left is not None and left <= 0):
            # Cut off (its deadline, a client gone, a probe's timeout): a short grace, then answer.
            await asyncio.wait({settle}, timeout=SETTLE_GRACE_S)
            return
        if left is None:
            await asyncio.shield(settle)  # outside a request: wait for it, as callers expect
        elif left > 0:
            await asyncio.wait({settle}, timeout=left)

    async def _settle(self, conn: Connection, interrupted: bool) -> None:
        try:
            if not conn.is_closed():
                # Any statement first waits for a cancellation in progress to end on the server.
                statement = "ROLLBACK" if conn.is_in_transaction() else "SELECT 1"
                await conn.execute(statement, timeout=self.settle_timeout)
        except (Exception, asyncio.CancelledError):  # noqa: BLE001 - whatever failed, the connection is not sound
            conn.terminate()
        self._lent.discard(conn)
        if conn.is_closed():
            self._places -= 1
            self._free_place()
        else:
            self._put(conn)
