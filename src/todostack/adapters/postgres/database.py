"""PostgreSQL: a pool per worker process, units of work, readiness and migrations."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import asyncpg

from todostack import context
from todostack.adapters.migrations import Migration, check_applied, load_migrations
from todostack.adapters.postgres.auth_tables import PgAttempts, PgSessions
from todostack.adapters.postgres.changes import PgChanges
from todostack.adapters.postgres.deadlines import TimedConnection, statement_timeout
from todostack.adapters.postgres.feed import sequence
from todostack.adapters.postgres.pool import Connection, ConnectionPool
from todostack.adapters.postgres.repositories import (
    PgIdempotency,
    PgLists,
    PgTodos,
    PgUsers,
)
from todostack.adapters.postgres.unavailable import is_unavailable, keep_alive, unavailable
from todostack.adapters.storage import StatementObserver
from todostack.adapters.waiting import bounded_wait
from todostack.context import DeadlineExceeded
from todostack.domain import TodoError
from todostack.observability.process import PoolState
from todostack.observability.tracing import Database

__all__ = ["PostgresDatabase", "PostgresUnitOfWork", "migrate_postgres", "pending_postgres_migrations"]

# Longest wait for a new connection outside a request (the pool's background refill); inside
# one, the request's remaining budget when that is shorter.
CONNECT_TIMEOUT_S = 5.0

# pg_advisory_lock key: "todostack" in ASCII, truncated to a bigint.
_MIGRATION_LOCK = 0x746F646F737461


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
        transaction_cap_ms: int | None = None,
    ) -> None:
        self._pool = pool
        self.acquire_timeout = acquire_timeout
        # Behind a transaction pooler: the server-side cap, set in each write transaction instead
        # of once per connection (see ``connect``).
        self.transaction_cap_ms = transaction_cap_ms
        parts = urlsplit(url)
        self.db = Database("postgresql", parts.path.lstrip("/"), parts.hostname, parts.port or 5432)
        self.observe = observe  # statement durations

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
        prepared_statements: bool = True,
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
        if prepared_statements:
            # A named statement switches to a generic plan after five runs, planned without its
            # arguments: for the heavy list's first page or a tag search of a heavy owner it then
            # expects a few hundred rows and sorts the whole list instead of reading it in index
            # order (docs/benchmarks.md, "Cost as the data grows"). Each run is planned with its
            # arguments instead. (Unnamed statements, through a pooler, always are.)
            server_settings["plan_cache_mode"] = "force_custom_plan"
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


class PostgresUnitOfWork:
    """One pooled connection; a transaction only for writes (reads run as single statements).

    A write transaction starts with the request's remaining budget as its ``statement_timeout``
    (``BEGIN`` and ``SET LOCAL`` go in one round trip); every statement also carries it as the
    driver timeout (``TimedConnection``). An ``autocommit`` write is one statement the caller
    vouches for: it commits on its own, and ``commit`` has nothing left to send.
    """

    users: PgUsers
    lists: PgLists
    todos: PgTodos
    idempotency: PgIdempotency
    sessions: PgSessions
    attempts: PgAttempts
    changes: PgChanges
    connection: TimedConnection

    def __init__(self, db: PostgresDatabase, *, write: bool, autocommit: bool = False) -> None:
        self._db = db
        self._write = write
        self._autocommit = autocommit
        self._open = False

    async def __aenter__(self) -> Self:
        self._conn = await self._db.acquire()
        try:
            if self._write:
                left = statement_timeout()
                if left is None:
                    cap = self._db.transaction_cap_ms
                    await self._conn.execute("BEGIN" if cap is None else f"BEGIN; SET LOCAL statement_timeout = {cap}")
                else:
                    # 0 would mean "no limit" to PostgreSQL: at least a millisecond.
                    ms = max(1, int(left * 1000))
                    try:
                        await self._conn.execute(f"BEGIN; SET LOCAL statement_timeout = {ms}", timeout=left)
                    except TimeoutError:
                        raise DeadlineExceeded("the request ran out of time starting a transaction") from None
                self._open = True
        except BaseException as exc:
            await self._db.release(self._conn, interrupted=True)
            if is_unavailable(exc):
                raise unavailable(exc) from exc
            raise
        self.connection = conn = TimedConnection(self._conn, self._db.db, self._db.observe)
        self.users = PgUsers(conn)
        self.lists = PgLists(conn)
        self.todos = PgTodos(conn)
        self.idempotency = PgIdempotency(conn)
        self.sessions = PgSessions(conn)
        self.attempts = PgAttempts(conn)
        self.changes = PgChanges(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # A statement cut short (a deadline, a cancelled request) is still being cancelled on the
        # server: the pool waits for that before it lends the connection again, so no work
        # outlives its request. A domain error (not found, a conflict) leaves it as it was.
        interrupted = exc_type is not None and not issubclass(exc_type, TodoError)
        rollback_failed: Exception | None = None
        try:
            if self._open:
                self._open = False
                left = context.remaining()
                if interrupted or (left is not None and left <= 0):
                    # The pool's settling rolls back, bounded, in its own task: a dead or
                    # black-holed link must not hold this answer past its deadline.
                    interrupted = True
                else:
                    try:
                        await self._conn.execute("ROLLBACK", timeout=left)
                    except Exception as failed:  # noqa: BLE001 - raised below, once the connection is settled
                        interrupted = True
                        rollback_failed = failed
                    except asyncio.CancelledError:
                        interrupted = True
                        raise
        finally:
            await self._db.release(self._conn, interrupted=interrupted)
        for error in (exc, rollback_failed):
            if error is not None and is_unavailable(error):
                # Lost mid-way (a write may or may not have been committed: the answer says so).
                raise unavailable(error) from error
        if rollback_failed is not None:
            raise rollback_failed

    async def commit(self) -> None:
        if self._autocommit:
            return
        if not self._open:
            raise RuntimeError("commit on a read-only unit of work")
        try:
            await self._conn.execute("COMMIT", timeout=statement_timeout())
        except (TimeoutError, asyncpg.QueryCanceledError):
            raise DeadlineExceeded("the request ran out of time while committing") from None
        self._open = False


async def _applied(conn: asyncpg.Connection[Any]) -> dict[int, str]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    return {r[0]: r[1] for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")}


async def pending_postgres_migrations(url: str, *, prepared_statements: bool = True) -> list[Migration]:
    """Migrations not yet applied; raises ``MigrationError`` on an edited history."""
    conn = await asyncpg.connect(url, statement_cache_size=100 if prepared_statements else 0)
    try:
        return check_applied(load_migrations("postgres"), await _applied(conn))
    finally:
        await conn.close()


_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
    " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
)


async def _apply(conn: asyncpg.Connection[Any], migration: Migration) -> None:
    await conn.execute(migration.sql)
    await conn.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        migration.version,
        migration.name,
        migration.checksum,
    )


async def migrate_postgres(url: str, *, prepared_statements: bool = True) -> list[Migration]:
    """Apply pending migrations, each in its own transaction, under an advisory lock.

    Two migrators started together are safe: the second waits for the lock, then finds
    nothing left to do. Through a transaction pooler (``prepared_statements=False``) a session
    lock would be taken on one server connection and released on another: there all pending
    migrations run in one transaction, under a transaction-scoped lock.
    """
    if not prepared_statements:
        conn = await asyncpg.connect(url, statement_cache_size=0)
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                await conn.execute(_MIGRATIONS_TABLE)
                todo = check_applied(load_migrations("postgres"), await _applied(conn))
                for migration in todo:
                    await _apply(conn, migration)
            return todo
        finally:
            await conn.close()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(_MIGRATIONS_TABLE)
            todo = check_applied(load_migrations("postgres"), await _applied(conn))
            for migration in todo:
                async with conn.transaction():
                    await _apply(conn, migration)
            return todo
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    finally:
        await conn.close()
