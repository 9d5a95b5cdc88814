"""PostgreSQL: a pool per worker process, connecting, readiness; units of work open on it
(``unit_of_work.py``); migrations: ``migrate.py``."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from todostack import context
from todostack.adapters.postgres.deadlines import postgres_timer
from todostack.adapters.postgres.feed import sequence
from todostack.adapters.postgres.pool import Connection, ConnectionPool
from todostack.adapters.postgres.todos import OwnerSizes
from todostack.adapters.postgres.unavailable import is_unavailable, keep_alive, unavailable
from todostack.adapters.postgres.unit_of_work import PostgresUnitOfWork
from todostack.adapters.storage import StatementObserver
from todostack.adapters.waiting import bounded_wait
from todostack.observability.db_spans import Database
from todostack.observability.process import PoolState
from todostack.observability.tracing import Tracing

__all__ = ["PostgresDatabase"]

# Longest wait for a new connection outside a request (the pool's background refill); inside
# one, the request's remaining budget when that is shorter.
CONNECT_TIMEOUT_S = 5.0


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    # UUIDs as plain strings both ways: ids are strings in the domain, and this skips a
    # uuid.UUID object per row.
    await conn.set_type_codec("uuid", encoder=str, decoder=str, schema="pg_catalog", format="text")


class PostgresDatabase:
    def __init__(
        self,
        pool: ConnectionPool,
        *,
        acquire_timeout: float = 1.0,
        url: str = "",
        observe: StatementObserver | None = None,
        tracing: Tracing | None = None,
        transaction_cap_ms: int | None = None,
    ) -> None:
        self._pool = pool
        self.acquire_timeout = acquire_timeout
        # Behind a transaction pooler: the server-side cap, set in each write transaction instead
        # of once per connection (see ``connect``).
        self.transaction_cap_ms = transaction_cap_ms
        parts = urlsplit(url)
        db = Database("postgresql", parts.path.lstrip("/"), parts.hostname, parts.port or 5432)
        self.timer = postgres_timer(db, observe, tracing)  # every statement: metrics, probes, spans
        # Set when a write unit of work commits: this worker's change-feed sequencer waits on it
        # (writes do not NOTIFY; see migration 0031).
        self.wrote = asyncio.Event()
        self.owner_sizes = OwnerSizes()  # for the searches' choice of plan (PgTodos.search)

    def pool_state(self) -> PoolState:
        pool = self._pool
        return PoolState(in_use=pool.in_use, idle=pool.idle, waiting=pool.waiting)

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        acquire_timeout: float = 1.0,
        statement_timeout: float | None = None,
        max_idle_seconds: float = 300.0,
        observe: StatementObserver | None = None,
        tracing: Tracing | None = None,
        prepared_statements: bool = True,
        plan_cache_mode: str = "auto",
    ) -> PostgresDatabase:
        """``statement_timeout`` caps every statement on the server, deadline or not (seconds).

        ``prepared_statements=False`` is for a pooler in transaction mode (PgBouncer 1.18 keeps no
        prepared statement from one transaction to the next, and refuses start-up parameters it
        does not know, ``statement_timeout`` among them): asyncpg then keeps no named statements
        (it parses each statement again in the message batch that runs it), nothing is sent at
        start-up, and the cap goes into each write transaction as ``SET LOCAL``. Reads run as
        single statements there, bounded by the request's deadline (the driver's cancel request,
        which the pooler forwards to the right server).
        """
        cap_ms = None if statement_timeout is None else max(1, round(statement_timeout * 1000))
        server_settings = {}
        if cap_ms is not None and prepared_statements:
            server_settings["statement_timeout"] = str(cap_ms)
        if prepared_statements and plan_cache_mode != "auto":
            # A named statement switches to a generic plan after five runs, planned without its
            # arguments: for a heavy owner's first page or tag search it then expects a few hundred
            # rows and sorts the whole list instead of reading it in index order (docs/benchmarks.md,
            # "Cost as the data grows"). ``force_custom_plan`` plans each run with its arguments,
            # which costs every statement a planning (get-one included). Unnamed statements, through
            # a pooler, always are planned so.
            server_settings["plan_cache_mode"] = plan_cache_mode
        cache_size = 100 if prepared_statements else 0  # 100: asyncpg's default

        async def connect() -> asyncpg.Connection[Any]:
            left = context.remaining()
            timeout = CONNECT_TIMEOUT_S if left is None else max(0.01, min(left, CONNECT_TIMEOUT_S))
            conn: asyncpg.Connection[Any] = await asyncpg.connect(
                url, server_settings=server_settings, statement_cache_size=cache_size, timeout=timeout
            )
            keep_alive(conn)
            try:
                await _init_connection(conn)
            except BaseException:
                conn.terminate()
                raise
            return conn

        pool = ConnectionPool(connect, min_size=min_size, max_size=max_size, max_idle_seconds=max_idle_seconds)
        # A worker started while the database is away starts anyway (not ready) and reconnects.
        await pool.open(tolerate=is_unavailable)
        return cls(
            pool,
            acquire_timeout=acquire_timeout,
            url=url,
            observe=observe,
            tracing=tracing,
            transaction_cap_ms=None if prepared_statements else cap_ms,
        )

    def __call__(self, *, write: bool = False, autocommit: bool = False) -> PostgresUnitOfWork:
        return PostgresUnitOfWork(self, write=write and not autocommit, autocommit=write and autocommit)

    async def acquire(self) -> Connection:
        """A pooled connection: at once when one is idle; else waiting no longer than the acquire
        timeout or the deadline (only then is there a timer to arm)."""
        conn = self._pool.try_acquire()
        if conn is not None:
            return conn
        try:
            async with bounded_wait(self.acquire_timeout, "a database connection"):
                return await self._pool.acquire()
        except Exception as exc:
            if is_unavailable(exc):
                raise unavailable(exc) from exc
            raise

    async def release(self, conn: Connection, *, interrupted: bool = False) -> None:
        await self._pool.release(conn, interrupted=interrupted)

    async def ping(self) -> None:
        self._pool.ensure_min_size()
        conn = await self.acquire()
        interrupted = True
        try:
            await conn.fetchval("SELECT 1", timeout=self.acquire_timeout + 1.0)
            interrupted = False
        finally:
            await self.release(conn, interrupted=interrupted)

    async def number_changes(self) -> int:
        """Number the committed changes that have none yet (``feed.sequence``) on a pooled
        connection; returns how many."""
        conn = await self.acquire()
        interrupted = True
        try:
            count = await sequence(conn)
            interrupted = False
            return count
        finally:
            await self.release(conn, interrupted=interrupted)

    async def sleep(self, seconds: float) -> None:
        """A query that keeps the server busy for ``seconds`` (deadline and cancellation tests)."""
        async with self() as uow:
            await uow.connection.fetchval("SELECT pg_sleep($1)", seconds)

    async def close(self) -> None:
        await self._pool.close()
