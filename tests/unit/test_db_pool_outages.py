"""The pool through an outage: it may start empty and refill itself, and a return that cannot
settle (a hung or black-holed link) never holds a request past its deadline or its cancellation."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from tests.unit.test_db_pool import FakeConnection, Server
from todostack import context
from todostack.adapters.postgres import pool as pool_module
from todostack.adapters.postgres import pool_places
from todostack.adapters.postgres.pool import ConnectionPool


async def test_a_pool_that_cannot_connect_at_start_may_start_empty_and_refills_in_the_background(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool_places, "REFILL_FIRST_DELAY_S", 0.001)
    monkeypatch.setattr(pool_places, "REFILL_MAX_DELAY_S", 0.004)
    server = Server()
    server.refuse = ConnectionRefusedError(111, "Connection refused")
    pool = ConnectionPool(server.connect, min_size=2, max_size=4, max_idle_seconds=0)
    await pool.open(tolerate=lambda exc: isinstance(exc, OSError))
    assert pool.idle == 0
    for _ in range(20):  # still refused: it keeps trying
        await asyncio.sleep(0.002)
    assert pool.idle == 0
    server.refuse = None
    async with asyncio.timeout(5):
        while pool.idle < 2:
            await asyncio.sleep(0.002)
    assert len(server.opened) == 2
    await pool.close()


async def test_an_error_the_caller_does_not_tolerate_still_fails_the_start() -> None:
    server = Server()
    server.refuse = PermissionError("password authentication failed")
    pool = ConnectionPool(server.connect, min_size=1, max_size=2, max_idle_seconds=0)
    with pytest.raises(PermissionError):
        await pool.open(tolerate=lambda exc: isinstance(exc, ConnectionRefusedError))


class HungConnection(FakeConnection):
    """A connection whose link went quiet: every statement waits forever."""

    async def execute(self, statement: str, *, timeout: float | None = None) -> str:
        await asyncio.sleep(3600)
        return statement


class SlowToStopConnection(FakeConnection):
    """A sound link: stopping the cancelled statement takes the server a moment."""

    async def execute(self, statement: str, *, timeout: float | None = None) -> str:
        await asyncio.sleep(0.05)
        return statement


async def test_a_cancelled_request_answers_after_the_server_stopped_its_statement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A 504'd write must not land after its answer: the rollback comes first when the server answers.
    monkeypatch.setattr(pool_module, "SETTLE_GRACE_S", 30.0)
    slow = SlowToStopConnection()

    async def connect() -> SlowToStopConnection:
        return slow

    pool = ConnectionPool(connect, min_size=1, max_size=1, max_idle_seconds=0)  # type: ignore[arg-type]
    await pool.open()
    conn = await pool.acquire()

    async def request() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await pool.release(conn, interrupted=True)
            assert pool.in_use == 0  # settled before the request could answer

    task = asyncio.create_task(request())
    await asyncio.sleep(0)
    task.cancel()
    async with asyncio.timeout(5):
        await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert pool.in_use == 0
    await pool.close(grace_seconds=0)


async def _hung_pool() -> tuple[ConnectionPool, HungConnection]:
    hung = HungConnection()

    async def connect() -> HungConnection:
        return hung

    pool = ConnectionPool(connect, min_size=1, max_size=1, max_idle_seconds=0)  # type: ignore[arg-type]
    await pool.open()
    return pool, hung


async def test_a_request_waits_for_an_unsettled_return_no_longer_than_its_deadline() -> None:
    pool, hung = await _hung_pool()
    conn = await pool.acquire()
    loop = asyncio.get_running_loop()
    ctx = context.RequestContext("r1", loop.time() + 0.05)
    token = context.use(ctx)
    try:
        async with asyncio.timeout(5):  # it used to wait out the 10 s settle timeout
            await pool.release(conn, interrupted=True)
    finally:
        context.reset(token)
    assert conn is cast(object, hung)
    assert pool.in_use == 1  # the settling task still holds it, and its place
    await pool.close(grace_seconds=0)
    assert hung.closed


async def test_a_cancelled_request_waits_for_a_hung_settling_no_longer_than_the_grace() -> None:
    pool, _ = await _hung_pool()
    conn = await pool.acquire()
    released = asyncio.Event()

    async def request() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await pool.release(conn, interrupted=True)
            released.set()

    task = asyncio.create_task(request())
    await asyncio.sleep(0)
    task.cancel()
    async with asyncio.timeout(5):
        await asyncio.gather(task, return_exceptions=True)
    assert released.is_set()
    await pool.close(grace_seconds=0)


async def test_a_pool_below_its_minimum_refills_in_the_background_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_places, "REFILL_FIRST_DELAY_S", 0.001)
    server = Server()
    pool = ConnectionPool(server.connect, min_size=1, max_size=2, max_idle_seconds=0)
    await pool.open()
    conn = await pool.acquire()
    cast(FakeConnection, conn).closed = True  # the server went away under it
    await pool.release(conn)
    assert pool.idle == 0
    pool.ensure_min_size()
    pool.ensure_min_size()  # one refill at a time
    async with asyncio.timeout(5):
        while pool.idle < 1:
            await asyncio.sleep(0.002)
    assert len(server.opened) == 2
    pool.ensure_min_size()  # at its minimum: nothing to do
    await asyncio.sleep(0.01)
    assert len(server.opened) == 2
    await pool.close()
