"""The service behind Debian's PgBouncer in transaction pooling, with its stock configuration.

``TODOSTACK_DB_PREPARED_STATEMENTS=off`` is the one setting that makes it work: without it the
pooler refuses the connection (``statement_timeout`` sent at start-up), and named prepared
statements would not survive from one transaction to the next. The deadline and the
cancellation of a query must still reach the server through the pooler.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.pg import in_ci, require_postgres, run_sync
from tests.server import RunningServer, run_server
from todostack.bench.pgbouncer import PGBOUNCER, pgbouncer, through

PASSWORD = "pooled-password-long-enough"
TEST_ROUTES = {
    "TODOSTACK_TEST_ENDPOINTS": "on",
    "TODOSTACK_DB_POOL_SIZE": "6",
    "TODOSTACK_DB_ACQUIRE_TIMEOUT_SECONDS": "2",
    "TODOSTACK_DB_PREPARED_STATEMENTS": "off",
}


def _require_pgbouncer() -> None:
    if shutil.which("pgbouncer") or os.path.exists(PGBOUNCER):
        return
    message = "Debian's pgbouncer is not installed (make pgbouncer)"
    if in_ci():
        pytest.fail(f"{message}; with CI=true the PgBouncer tests must run", pytrace=False)
    pytest.skip(message)


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A database of its own (not a schema: ``search_path`` in the URL is a start-up parameter)."""
    admin = require_postgres()
    name = f"ts_pgb_{uuid.uuid4().hex[:10]}"
    run_sync(_execute(admin, f"CREATE DATABASE {name}"))
    try:
        yield f"{admin.rsplit('/', 1)[0]}/{name}"
    finally:
        run_sync(_execute(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="module")
def pooled_url(database: str) -> Iterator[str]:
    _require_pgbouncer()
    # Two server connections for six client connections per worker: every transaction may land
    # on a different server connection than the one before it.
    with pgbouncer(database, pool_size=2) as port:
        yield through(database, port)


@pytest.fixture(scope="module")
def pooled_server(pooled_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("pgbouncer")
    env = {**os.environ, "TODOSTACK_DATABASE_URL": pooled_url, "TODOSTACK_DB_PREPARED_STATEMENTS": "off"}
    done = subprocess.run([sys.executable, "-m", "todostack", "migrate"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with run_server(pooled_url, tmp, workers=2, env=TEST_ROUTES) as running:
        yield running


def _sleeping(database: str) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(database)
        try:
            n: int = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state = 'active' AND query = 'SELECT pg_sleep($1)'"
            )
            return n
        finally:
            await conn.close()

    return run_sync(count())


def _wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def _signed_in(server: RunningServer) -> httpx.Client:
    email = f"pooled-{uuid.uuid4().hex[:8]}@example.com"
    with server.client() as anon:
        assert anon.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
        token = anon.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD}).json()["access_token"]
    return server.client(token)


def test_a_stock_pgbouncer_refuses_the_start_up_settings_the_default_mode_sends(pooled_url: str) -> None:
    # What the service ran into before: the reason the setting exists.
    async def connect() -> None:
        conn = await asyncpg.connect(pooled_url, server_settings={"statement_timeout": "1000"})
        await conn.close()

    with pytest.raises(asyncpg.PostgresError, match="unsupported startup parameter: statement_timeout"):
        run_sync(connect())


def test_the_api_works_through_the_pooler_under_concurrency(pooled_server: RunningServer) -> None:
    with _signed_in(pooled_server) as http:

        def create(i: int) -> dict[str, object]:
            r = http.post(
                "/api/v1/todos", json={"title": f"pooled {i}", "tags": ["pool"], "due": "2030-01-01T00:00:00Z"}
            )
            assert r.status_code == 201, r.text
            body: dict[str, object] = r.json()
            return body

        with ThreadPoolExecutor(16) as pool:
            created = list(pool.map(create, range(64)))

        def read_and_patch(todo: dict[str, object]) -> None:
            got = http.get(f"/api/v1/todos/{todo['id']}")
            assert got.status_code == 200, got.text
            r = http.patch(
                f"/api/v1/todos/{todo['id']}", json={"completed": True}, headers={"If-Match": got.headers["etag"]}
            )
            assert r.status_code == 200, r.text

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(read_and_patch, created))
        page = http.get("/api/v1/todos", params={"tag": "pool", "limit": 100, "due_before": "2031-01-01T00:00:00Z"})
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        assert len(items) == 64
        assert all(item["completed"] for item in items)
        assert http.get("/api/v1/todos", params={"q": "pooled 1"}).status_code == 200


def test_a_deadline_stops_the_query_on_the_server_through_the_pooler(
    pooled_server: RunningServer, database: str
) -> None:
    with pooled_server.client() as http:
        r = http.get("/__test__/db-sleep", params={"seconds": 30}, headers={"Request-Timeout": "0.3"})
    assert r.status_code == 504, r.text
    assert r.json()["cause"] == "deadline_exceeded"
    # The cancel request went through the pooler to the right server connection.
    assert _wait_for(lambda: _sleeping(database) == 0, 5), "pg_sleep still running on the server"


def test_a_client_that_goes_away_cancels_its_query_through_the_pooler(
    pooled_server: RunningServer, database: str
) -> None:
    def go_away_mid_query() -> None:
        with pytest.raises(httpx.ReadTimeout), httpx.Client(base_url=pooled_server.url, timeout=1.5) as http:
            http.get("/__test__/db-sleep", params={"seconds": 30})

    client = threading.Thread(target=go_away_mid_query)
    client.start()
    assert _wait_for(lambda: _sleeping(database) == 1, 10), "the query never ran"
    client.join()
    assert _wait_for(lambda: _sleeping(database) == 0, 5), "pg_sleep still running after the client left"


def test_a_write_waiting_on_a_lock_is_stopped_by_its_deadline_through_the_pooler(
    pooled_server: RunningServer, database: str
) -> None:
    with _signed_in(pooled_server) as http:
        todo = http.post("/api/v1/todos", json={"title": "contended"}).json()

        async def patch_while_locked() -> httpx.Response:
            conn = await asyncpg.connect(database)  # directly: the lock holder is not pooled
            try:
                async with conn.transaction():
                    await conn.execute("SELECT 1 FROM todos WHERE id = $1 FOR UPDATE", todo["id"])
                    return await asyncio.to_thread(
                        http.patch,
                        f"/api/v1/todos/{todo['id']}",
                        json={"title": "changed"},
                        headers={"Request-Timeout": "0.5"},
                    )
            finally:
                await conn.close()

        r = run_sync(patch_while_locked())
        assert r.status_code == 504, r.text
        assert http.get(f"/api/v1/todos/{todo['id']}").json()["title"] == "contended"
        assert http.patch(f"/api/v1/todos/{todo['id']}", json={"title": "changed"}).status_code == 200


def test_without_a_deadline_a_write_transaction_still_carries_the_statement_cap(pooled_url: str) -> None:
    from todostack.adapters.postgres import PostgresDatabase

    async def cap_in_a_write() -> str:
        db = await PostgresDatabase.connect(pooled_url, statement_timeout=7.5, prepared_statements=False)
        try:
            async with db(write=True) as uow:
                shown: str = await uow.connection.fetchval("SHOW statement_timeout")
            return shown
        finally:
            await db.close()

    assert run_sync(cap_in_a_write()) == "7500ms"


def test_a_server_log_has_no_prepared_statement_errors(pooled_server: RunningServer) -> None:
    text = Path(pooled_server.log).read_text()
    assert "prepared statement" not in text
