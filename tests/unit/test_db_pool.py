"""The PostgreSQL connection pool's lending rules, on stand-in connections (no server needed)."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import asyncpg
import pytest

from todostack.adapters.postgres.pool import ConnectionPool


class FakeConnection:
    """What the pool uses of an asyncpg connection, with a record of the statements it got."""

    _ids = itertools.count(1)

    def __init__(self) -> None:
        self.id = next(self._ids)
        self.closed = False
        self.in_transaction = False
        self.statements: list[str] = []
        self.fail_next: BaseException | None = None

    def is_closed(self) -> bool:
        return self.closed

    def is_in_transaction(self) -> bool:
        return self.in_transaction

    def terminate(self) -> None:
        self.closed = True

    async def close(self, *, timeout: float | None = None) -> None:
        self.closed = True

    async def execute(self, statement: str, *, timeout: float | None = None) -> str:
        await asyncio.sleep(0)
        if self.fail_next is not None:
            failure, self.fail_next = self.fail_next, None
            raise failure
        self.statements.append(statement)
        if statement == "ROLLBACK":
            self.in_transaction = False
        return statement

    def __repr__(self) -> str:
        return f"<conn {self.id}>"


class Server:
    """Hands out fake connections; can be told to refuse."""

    def __init__(self) -> None:
        self.opened: list[FakeConnection] = []
        self.refuse: BaseException | None = None

    async def connect(self) -> Any:
        await asyncio.sleep(0)
        if self.refuse is not None:
            raise self.refuse
        conn = FakeConnection()
        self.opened.append(conn)
        return conn


async def _pool(server: Server, **kwargs: Any) -> Any:  # its connections are FakeConnections
    pool = ConnectionPool(server.connect, **{"min_size": 1, "max_size": 2, "max_idle_seconds": 0, **kwargs})
    await pool.open()
    return pool


async def test_the_warmest_connection_is_lent_again_and_no_more_than_max_size_are_opened() -> None:
    server = Server()
    pool = await _pool(server)
    first = await pool.acquire()
    second = await pool.acquire()
    assert len(server.opened) == 2
    assert (pool.in_use, pool.idle) == (2, 0)
    await pool.release(second)
    await pool.release(first)
    assert await pool.acquire() is first  # the last one back: LIFO
    assert pool.try_acquire() is second
    assert pool.try_acquire() is None
    assert len(server.opened) == 2


async def test_waiters_are_handed_connections_in_the_order_they_came() -> None:
    server = Server()
    pool = await _pool(server, max_size=1)
    held = await pool.acquire()
    order: list[str] = []

    async def wait(name: str) -> Any:
        conn = await pool.acquire()
        order.append(name)
        return conn

    first = asyncio.create_task(wait("first"))
    await asyncio.sleep(0)
    second = asyncio.create_task(wait("second"))
    await asyncio.sleep(0)
    assert pool.waiting == 2
    await pool.release(held)
    assert await first is held
    await pool.release(held)
    assert await second is held
    assert order == ["first", "second"]
    assert len(server.opened) == 1


async def test_a_waiter_that_gives_up_leaves_the_connection_to_the_next() -> None:
    server = Server()
    pool = await _pool(server, max_size=1)
    held = await pool.acquire()
    impatient = asyncio.create_task(pool.acquire())
    patient = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    await pool.release(held)
    assert await patient is held
    assert pool.waiting == 0


async def test_a_connection_handed_over_as_its_waiter_is_cancelled_goes_back() -> None:
    server = Server()
    pool = await _pool(server, max_size=1)
    held = await pool.acquire()
    waiter = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0)
    await pool.release(held)  # handed to the waiter, which has not run yet...
    waiter.cancel()  # ...and is cancelled before it does
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (pool.in_use, pool.idle) == (0, 1)
    assert await pool.acquire() is held


async def test_a_closed_connection_frees_its_place_for_a_waiter_to_open_one() -> None:
    server = Server()
    pool = await _pool(server, max_size=1)
    held = await pool.acquire()
    waiter = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0)
    held.terminate()  # the server went away
    await pool.release(held)
    fresh = await waiter
    assert fresh is not held
    assert not fresh.is_closed()
    assert len(server.opened) == 2
    assert pool.in_use == 1


async def test_an_idle_connection_found_closed_is_skipped() -> None:
    server = Server()
    pool = await _pool(server, max_size=1)
    dead = server.opened[0]
    dead.closed = True
    conn = await pool.acquire()
    assert conn is not dead
    assert len(server.opened) == 2


async def test_a_refused_connect_frees_its_place() -> None:
    server = Server()
    pool = await _pool(server, min_size=0, max_size=1)
    server.refuse = OSError("connection refused")
    with pytest.raises(OSError, match="refused"):
        await pool.acquire()
    server.refuse = None
    assert not (await pool.acquire()).is_closed()


@pytest.mark.parametrize(
    ("in_transaction", "interrupted", "statements"),
    [(False, False, []), (False, True, ["SELECT 1"]), (True, False, ["ROLLBACK"]), (True, True, ["ROLLBACK"])],
    ids=["clean: no statement", "interrupted: SELECT 1", "in a transaction: ROLLBACK", "both: ROLLBACK"],
)
async def test_an_unsettled_connection_is_settled_before_it_is_lent_again(
    in_transaction: bool, interrupted: bool, statements: list[str]
) -> None:
    server = Server()
    pool = await _pool(server, max_size=1)
    conn = await pool.acquire()
    conn.in_transaction = in_transaction
    await pool.release(conn, interrupted=interrupted)
    assert conn.statements == statements
    assert await pool.acquire() is conn
    assert not conn.is_in_transaction()


async def test_a_connection_that_fails_to_settle_is_terminated_and_replaced() -> None:
    server = Server()
    pool = await _pool(server, max_size=1)
    conn = await pool.acquire()
    conn.fail_next = asyncpg.InterfaceError("broken")
    await pool.release(conn, interrupted=True)
    assert conn.is_closed()
    assert (pool.in_use, pool.idle) == (0, 0)
    replacement = await pool.acquire()
    assert replacement is not conn


async def test_settling_finishes_even_when_the_request_is_cancelled_again() -> None:
    server = Server()
    pool = await _pool(server, max_size=1)
    conn = await pool.acquire()
    conn.in_transaction = True
    returning = asyncio.create_task(pool.release(conn, interrupted=True))
    await asyncio.sleep(0)
    returning.cancel()
    with pytest.raises(asyncio.CancelledError):
        await returning
    assert await pool.acquire() is conn
    assert conn.statements == ["ROLLBACK"]


async def test_idle_connections_past_their_time_are_closed_down_to_min_size() -> None:
    server = Server()
    pool = await _pool(server, min_size=1, max_size=3, max_idle_seconds=60)
    held = [await pool.acquire() for _ in range(3)]
    for conn in held:
        await pool.release(conn)
    assert pool.trim(now=time.monotonic() + 61) == 2
    await asyncio.sleep(0)  # the closes run in the background
    assert sum(c.is_closed() for c in held) == 2
    assert pool.idle == 1
    kept = await pool.acquire()
    assert not kept.is_closed()
    await pool.release(kept)
    await pool.close()


async def test_close_fails_waiters_and_closes_every_connection() -> None:
    server = Server()
    pool = await _pool(server, max_size=1)
    held = await pool.acquire()
    waiter = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0)
    closing = asyncio.create_task(pool.close(grace_seconds=5))
    with pytest.raises(asyncpg.InterfaceError, match="closed"):
        await waiter
    await pool.release(held)  # the request in flight finishes: close() stops waiting for it
    await asyncio.wait_for(closing, 1)
    assert held.is_closed()
    with pytest.raises(asyncpg.InterfaceError, match="closed"):
        await pool.acquire()


async def test_close_terminates_what_is_not_back_within_the_grace_period() -> None:
    server = Server()
    pool = await _pool(server, max_size=1)
    held = await pool.acquire()
    await pool.close(grace_seconds=0.01)
    assert held.is_closed()


async def test_a_pool_that_cannot_open_leaves_no_connection_behind() -> None:
    server = Server()
    refuse_second = server.connect

    async def connect() -> Any:
        if server.opened:
            raise OSError("connection refused")
        return await refuse_second()

    pool = ConnectionPool(connect, min_size=2, max_size=2, max_idle_seconds=0)
    with pytest.raises(OSError, match="refused"):
        await pool.open()
    assert [c.is_closed() for c in server.opened] == [True]
    assert (pool.idle, pool.in_use) == (0, 0)
