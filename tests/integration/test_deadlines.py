"""Deadlines and cancellations reach the database: a real server on PostgreSQL and on SQLite.

``/__test__/db-sleep`` runs ``SELECT pg_sleep(S)`` (PostgreSQL) or a query that spins for S seconds
(SQLite) through the same unit of work as every other query.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.pg import run_sync
from tests.server import RunningServer, run_postgres_server, run_server
from todostack import context
from todostack.adapters.postgres import PostgresDatabase
from todostack.adapters.sqlite import SqliteDatabase
from todostack.context import Cause, RequestContext

TEST_ROUTES = {
    "TODOSTACK_TEST_ENDPOINTS": "on",
    "TODOSTACK_DB_POOL_SIZE": "2",
    "TODOSTACK_DB_ACQUIRE_TIMEOUT_SECONDS": "0.3",
}
SLEEPING = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = 'SELECT pg_sleep($1)'"


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_postgres_server(tmp_path_factory.mktemp("deadlines-pg"), env=TEST_ROUTES) as running:
        yield running


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("deadlines-sqlite")
    with run_server(f"sqlite:///{tmp}/d.db", tmp, env=TEST_ROUTES) as running:
        yield running


def _sleeping_queries(url: str) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(url)
        try:
            n: int = await conn.fetchval(SLEEPING)
            return n
        finally:
            await conn.close()

    return run_sync(count())


def _wait_for(predicate: object, timeout: float) -> bool:
    assert callable(predicate)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


def _access_line(server: RunningServer, request_id: str) -> dict[str, object]:
    """The request's access line (written within 0.2 s: access lines are buffered)."""
    end = time.monotonic() + 5
    while True:
        for line in reversed(server.log.read_text().splitlines()):
            if line.startswith("{") and request_id in line:
                entry: dict[str, object] = json.loads(line)
                if entry.get("event") == "request":
                    return entry
        if time.monotonic() > end:
            raise AssertionError(f"no access line for request {request_id}")
        time.sleep(0.05)


def test_a_request_timeout_stops_the_postgresql_query_and_answers_504(pg_server: RunningServer) -> None:
    with pg_server.client() as http:
        started = time.monotonic()
        r = http.get("/__test__/db-sleep", params={"seconds": 5}, headers={"Request-Timeout": "0.2"})
        elapsed = time.monotonic() - started
    assert r.status_code == 504, r.text
    body = r.json()
    assert body["cause"] == "deadline_exceeded"
    assert elapsed < 0.5, f"504 after {elapsed:.3f} s"
    # The connection went back to the pool only once the server had cancelled the query.
    assert _wait_for(lambda: _sleeping_queries(pg_server.database_url) == 0, 0.1)
    assert _access_line(pg_server, body["request_id"])["cause"] == "deadline_exceeded"


def test_a_client_that_disconnects_leaves_no_query_running(pg_server: RunningServer) -> None:
    def go_away_mid_query() -> None:
        with pytest.raises(httpx.ReadTimeout), httpx.Client(base_url=pg_server.url, timeout=1.0) as http:
            http.get("/__test__/db-sleep", params={"seconds": 30}, headers={"X-Request-ID": "goes-away-1"})

    client = threading.Thread(target=go_away_mid_query)
    client.start()
    # Proof that the query really ran on the server before the client went away.
    assert _wait_for(lambda: _sleeping_queries(pg_server.database_url) == 1, 5)
    client.join()
    assert _wait_for(lambda: _sleeping_queries(pg_server.database_url) == 0, 2), "pg_sleep still running"
    entry = _access_line(pg_server, "goes-away-1")
    assert (entry["cause"], entry["status"]) == ("client_disconnected", 499)


def test_a_write_waiting_on_a_lock_is_stopped_by_its_deadline(pg_server: RunningServer) -> None:
    with pg_server.client() as anon:
        anon.post("/api/v1/auth/register", json={"email": "locks@example.com", "password": "pass-word-12"})
        token = anon.post("/api/v1/auth/token", json={"email": "locks@example.com", "password": "pass-word-12"})
    with pg_server.client(token.json()["access_token"]) as http:
        todo = http.post("/api/v1/todos", json={"title": "contended"}).json()

        async def patch_while_locked() -> httpx.Response:
            conn = await asyncpg.connect(pg_server.database_url)
            try:
                async with conn.transaction():
                    await conn.execute("SELECT 1 FROM todos WHERE id = $1 FOR UPDATE", todo["id"])
                    return await asyncio.to_thread(
                        http.patch,
                        f"/api/v1/todos/{todo['id']}",
                        json={"title": "changed"},
                        headers={"Request-Timeout": "0.3"},
                    )
            finally:
                await conn.close()

        r = run_sync(patch_while_locked())
        assert r.status_code == 504, r.text
        assert r.json()["cause"] == "deadline_exceeded"
        # Nothing half-done: the todo is as it was, and can be changed now the lock is gone.
        assert http.get(f"/api/v1/todos/{todo['id']}").json()["title"] == "contended"
        assert http.patch(f"/api/v1/todos/{todo['id']}", json={"title": "changed"}).status_code == 200


def test_no_free_connection_within_the_bound_is_a_fast_503(pg_server: RunningServer) -> None:
    # The pool has 2 connections: hold both, then ask for a third.
    def hold() -> None:
        with httpx.Client(base_url=pg_server.url, timeout=10) as http:
            http.get("/__test__/db-sleep", params={"seconds": 1.5})

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for t in holders:
        t.start()
    assert _wait_for(lambda: _sleeping_queries(pg_server.database_url) == 2, 5)
    with pg_server.client() as http:
        r = http.get("/__test__/db-sleep", params={"seconds": 0.01})
    for t in holders:
        t.join()
    assert r.status_code == 503, r.text
    assert r.json()["cause"] == "overloaded"
    assert r.headers["retry-after"] == "1"


def test_a_request_timeout_interrupts_the_sqlite_query(sqlite_server: RunningServer) -> None:
    with sqlite_server.client() as http:
        r = http.get("/__test__/db-sleep", params={"seconds": 60}, headers={"Request-Timeout": "0.2"})
        assert r.status_code == 504, r.text
        assert r.json()["cause"] == "deadline_exceeded"
        # Every connection is usable at once (the longest wait for one is the 0.3 s acquire bound).
        for _ in range(4):
            assert http.get("/__test__/db-sleep", params={"seconds": 0.01}).status_code == 200


@pytest.mark.parametrize("write", [False, True], ids=["read", "write"])
@pytest.mark.parametrize("cause", [Cause.DEADLINE_EXCEEDED, Cause.CLIENT_DISCONNECTED])
async def test_a_postgresql_connection_comes_back_only_once_its_cancelled_statement_is_gone(
    pg_url: str, cause: Cause, write: bool
) -> None:
    # One connection: the next request gets the very connection the cancelled one was using.
    db = await PostgresDatabase.connect(pg_url, min_size=1, max_size=1)
    try:
        ctx = RequestContext("cancelled")
        backend: list[int] = []

        async def cancelled_request() -> None:
            token = context.use(ctx)
            try:
                async with db(write=write) as uow:
                    backend.append(await uow.connection.fetchval("SELECT pg_backend_pid()"))
                    await uow.connection.fetchval("SELECT pg_sleep($1)", 600)
            finally:
                context.reset(token)

        task = asyncio.create_task(cancelled_request())
        ctx.bind(task)
        assert await asyncio.to_thread(_wait_for, lambda: _sleeping_queries(pg_url) == 1, 5)
        ctx.cancel(cause)
        with pytest.raises(asyncio.CancelledError):
            await task
        # Settled before it was lent again: the server had stopped the statement by then, and no
        # transaction was left open on it.
        async with asyncio.timeout(5), db() as uow:
            assert not uow.connection.raw.is_in_transaction()
            assert _sleeping_queries(pg_url) == 0
            assert await uow.connection.fetchval("SELECT pg_backend_pid()") == backend[0]
        assert db.pool_state().in_use == 0
    finally:
        await db.close()


@pytest.mark.parametrize("cause", [Cause.DEADLINE_EXCEEDED, Cause.CLIENT_DISCONNECTED, Cause.SHUTDOWN])
async def test_cancelling_a_request_interrupts_its_sqlite_statement(tmp_path: Path, cause: Cause) -> None:
    # One connection: were the 10-minute statement not interrupted, the ping after it would wait for it.
    db = await SqliteDatabase.connect(f"sqlite:///{tmp_path}/one.db", size=1)
    try:
        ctx = RequestContext("r")

        async def request() -> None:
            token = context.use(ctx)
            try:
                await db.sleep(600)
            finally:
                context.reset(token)

        task = asyncio.create_task(request())
        ctx.bind(task)
        await asyncio.sleep(0.1)
        ctx.cancel(cause)
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(db.ping(), 30)
    finally:
        await db.close()


@pytest.mark.parametrize("write", [False, True])
async def test_after_a_cancelled_statement_the_connection_serves_the_next_request(tmp_path: Path, write: bool) -> None:
    db = await SqliteDatabase.connect(f"sqlite:///{tmp_path}/next.db", size=1)
    try:
        ctx = RequestContext("cancelled")

        async def cancelled_request() -> None:
            token = context.use(ctx)
            try:
                async with db(write=write) as uow:
                    if write:
                        await uow.connection.execute("CREATE TABLE IF NOT EXISTS marks (n INTEGER)")
                        await uow.connection.execute("INSERT INTO marks VALUES (1)")
                    await uow.connection.execute(
                        "WITH RECURSIVE spin(t) AS (SELECT py_monotonic() UNION ALL"
                        " SELECT t FROM spin WHERE py_monotonic() < t + 600) SELECT count(*) FROM spin"
                    )
            finally:
                context.reset(token)

        task = asyncio.create_task(cancelled_request())
        ctx.bind(task)
        await asyncio.sleep(0.1)
        ctx.cancel(Cause.CLIENT_DISCONNECTED)
        with pytest.raises(asyncio.CancelledError):
            await task
        # The next request, on the same (only) connection, is served normally.
        async with db(write=True) as uow:
            await uow.connection.execute("CREATE TABLE IF NOT EXISTS marks (n INTEGER)")
            await uow.connection.execute("INSERT INTO marks VALUES (2)")
            await uow.commit()
        async with db() as uow, uow.connection.execute("SELECT n FROM marks ORDER BY n") as cursor:
            assert [row[0] for row in await cursor.fetchall()] == [2]  # nothing of the cancelled write
    finally:
        await db.close()


async def test_a_write_cancelled_while_it_begins_leaves_no_lock_behind(tmp_path: Path) -> None:
    # Two connections: the cancelled writer's, and the next writer's.
    db = await SqliteDatabase.connect(f"sqlite:///{tmp_path}/begin.db", size=2)
    try:

        async def writer() -> None:
            async with db(write=True) as uow:
                await uow.commit()

        for _ in range(5):
            task = asyncio.create_task(writer())
            await asyncio.sleep(0)  # it now waits for BEGIN IMMEDIATE, which runs in aiosqlite's thread
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # Had that connection gone back to the pool inside its transaction, this BEGIN
            # would wait out the busy timeout and fail with "database is locked".
            async with asyncio.timeout(3), db(write=True) as uow:
                await uow.connection.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
                await uow.commit()
    finally:
        await db.close()


async def test_every_pooled_sqlite_connection_is_set_up_alike(tmp_path: Path) -> None:
    db = await SqliteDatabase.connect(f"sqlite:///{tmp_path}/pragmas.db", size=3)
    try:
        pragmas = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "cache_size", "wal_autocheckpoint")
        for conn in db._all:
            settings = []
            for pragma in pragmas:
                [[value]] = await conn.execute_fetchall(f"PRAGMA {pragma}")
                settings.append(value)
            # WAL, NORMAL (1), foreign keys on, 5 s busy wait, a 1 MiB page cache (negative: KiB), and
            # checkpoints left to the pool's own task but past 10,000 pages of WAL.
            assert settings == ["wal", 1, 1, 5000, -1024, 10_000]
    finally:
        await db.close()
