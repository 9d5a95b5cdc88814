"""SQLite: a small pool of aiosqlite connections in WAL mode, units of work and migrations."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

import aiosqlite

from todostack import context
from todostack.adapters.migrations import Migration, check_applied, load_migrations
from todostack.adapters.sqlite.auth_tables import SqliteAttempts, SqliteSessions
from todostack.adapters.sqlite.changes import SqliteChanges
from todostack.adapters.sqlite.repositories import SqliteIdempotency, SqliteLists, SqliteUsers
from todostack.adapters.sqlite.statements import ObservedConnection
from todostack.adapters.sqlite.todos import SqliteTodos
from todostack.adapters.statements import StatementTimer
from todostack.adapters.storage import StatementObserver
from todostack.adapters.waiting import bounded_wait
from todostack.context import StorageFull
from todostack.observability.db_spans import Database
from todostack.observability.tracing import Tracing

__all__ = ["SqliteDatabase", "migrate_sqlite", "sqlite_path"]

BUSY_TIMEOUT_MS = 5000
# Page cache per connection (SQLite's default is 2 MiB). A worker holds a pool of them, and a page
# it misses is a read from the kernel's page cache, which every connection and worker share.
CACHE_KIB = 1024


def _disk_full(exc: BaseException | None) -> bool:
    """SQLITE_FULL: the filesystem (or the database's size limit) has no room for the write."""
    return isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


def _storage_full() -> StorageFull:
    return StorageFull("the database's disk is full: this write was not kept; retry later")


def sqlite_path(url: str) -> str:
    """``sqlite:///var/x.db`` is relative, ``sqlite:////srv/x.db`` absolute, ``sqlite://:memory:``."""
    rest = url.removeprefix("sqlite://")
    if rest in (":memory:", "/:memory:"):
        return ":memory:"
    return rest.removeprefix("/") if not rest.startswith("//") else rest[1:]


async def _prepare(conn: aiosqlite.Connection) -> None:
    pragmas = (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        f"busy_timeout={BUSY_TIMEOUT_MS}",
        f"cache_size=-{CACHE_KIB}",
    )
    for pragma in pragmas:
        await conn.execute(f"PRAGMA {pragma}")
    # Unicode-aware lower() for text search (SQLite's own folds ASCII only).
    await conn.create_function("py_lower", 1, str.lower, deterministic=True)
    # For sleep(): functions cannot be (re)defined while a statement is active on a connection.
    await conn.create_function("py_monotonic", 0, time.monotonic)


class SqliteDatabase:
    def __init__(
        self,
        connections: list[aiosqlite.Connection],
        *,
        acquire_timeout: float = 1.0,
        path: str = ":memory:",
        observe: StatementObserver | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self._path = path
        self.timer = StatementTimer(Database("sqlite", path), observe, tracing)  # metrics, probes, spans
        self._idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for conn in connections:
            self._idle.put_nowait(conn)
        self._all = connections
        self.acquire_timeout = acquire_timeout
        # SQLite has one writer at a time anyway; queueing writers here is cheaper than
        # letting them spin in SQLite's busy handler. Other processes still meet busy_timeout.
        self.write_lock = asyncio.Lock()

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        size: int = 4,
        acquire_timeout: float = 1.0,
        observe: StatementObserver | None = None,
        tracing: Tracing | None = None,
    ) -> SqliteDatabase:
        path = sqlite_path(url)
        in_memory = path == ":memory:"
        if in_memory:
            size = 1  # every connection to :memory: is a database of its own
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        connections = []
        for _ in range(size):
            conn = await aiosqlite.connect(path, isolation_level=None)
            await _prepare(conn)
            connections.append(conn)
        if in_memory:
            # Nobody else can see this database: migrate it on its only connection.
            for migration in load_migrations("sqlite"):
                await connections[0].executescript(migration.sql)
        return cls(connections, acquire_timeout=acquire_timeout, path=path, observe=observe, tracing=tracing)

    def __call__(self, *, write: bool = False, autocommit: bool = False) -> SqliteUnitOfWork:
        return SqliteUnitOfWork(self, write=write, autocommit=write and autocommit)

    async def acquire(self) -> aiosqlite.Connection:
        if not self._idle.empty():
            return self._idle.get_nowait()
        async with bounded_wait(self.acquire_timeout, "a database connection"):
            return await self._idle.get()

    def release(self, conn: aiosqlite.Connection) -> None:
        self._idle.put_nowait(conn)

    async def renew(self, conn: aiosqlite.Connection) -> aiosqlite.Connection:
        """A fresh connection in place of one an interrupt left unusable (closing rolls back).

        An in-memory database lives only in its connection: that one is kept.
        """
        if self._path == ":memory:":
            return conn
        with contextlib.suppress(sqlite3.Error):
            await conn.close()
        fresh = await aiosqlite.connect(self._path, isolation_level=None)
        await _prepare(fresh)
        self._all[self._all.index(conn)] = fresh
        return fresh

    async def ping(self) -> None:
        conn = await self.acquire()
        try:
            await conn.execute("SELECT 1")
        finally:
            self.release(conn)

    async def sleep(self, seconds: float) -> None:
        """A query that keeps SQLite busy for ``seconds`` (deadline and cancellation tests)."""
        async with (
            self() as uow,
            uow.connection.execute(
                "WITH RECURSIVE spin(t) AS (SELECT py_monotonic() UNION ALL"
                " SELECT t FROM spin WHERE py_monotonic() < t + ?) SELECT count(*) FROM spin",
                (seconds,),
            ) as cursor,
        ):
            await cursor.fetchall()

    async def close(self) -> None:
        for conn in self._all:
            await conn.close()


async def _usable(conn: aiosqlite.Connection) -> bool:
    for _ in range(2):  # the first may still meet the interrupt meant for the statement before
        try:
            await conn.execute("SELECT 1")
        except sqlite3.OperationalError:
            continue
        return True
    return False


class SqliteUnitOfWork:
    """One connection from the pool; writes hold the write lock and an immediate transaction.

    An ``autocommit`` write still takes this process's write lock but no transaction: a single
    writing statement takes SQLite's write lock as it starts (waiting in the busy handler like
    ``BEGIN IMMEDIATE``) and commits as it ends, two thread hops fewer.

    While it is open, cancelling the request (deadline, client gone, shutdown) interrupts the
    statement SQLite is running: a cleanup hook on the request context, Go's AfterFunc.
    """

    users: SqliteUsers
    lists: SqliteLists
    todos: SqliteTodos
    idempotency: SqliteIdempotency
    sessions: SqliteSessions
    attempts: SqliteAttempts
    changes: SqliteChanges
    connection: aiosqlite.Connection

    def __init__(self, db: SqliteDatabase, *, write: bool, autocommit: bool = False) -> None:
        self._db = db
        self._write = write
        self._autocommit = autocommit
        self._open = False
        self._stop_interrupt: Callable[[], bool] | None = None
        self._closing = False

    async def _interrupt(self) -> None:
        """The request's cleanup hook: stop the statement this unit of work is running."""
        if not self._closing:
            await self.connection.interrupt()  # sqlite3's interrupt(), called from this thread

    async def __aenter__(self) -> Self:
        if self._write:
            if self._db.write_lock.locked():
                async with bounded_wait(self._db.acquire_timeout, "turn to write"):
                    await self._db.write_lock.acquire()
            else:
                await self._db.write_lock.acquire()
        try:
            self.connection = conn = await self._db.acquire()
            if self._write and not self._autocommit:
                try:
                    await conn.execute("BEGIN IMMEDIATE")
                except BaseException:
                    # Cancelled while waiting, the BEGIN may still have run in aiosqlite's
                    # thread: a connection must never go back to the pool holding the write lock.
                    self._db.release(await self._quiesce(conn))
                    raise
                self._open = True
        except BaseException as exc:
            if self._write:
                self._db.write_lock.release()
            if _disk_full(exc):
                raise _storage_full() from exc
            raise
        ctx = context.current()
        if ctx is not None:
            self._stop_interrupt = ctx.after(self._interrupt)
        observed = ObservedConnection(conn, self._db.timer)
        self.users = SqliteUsers(observed)
        self.lists = SqliteLists(observed)
        self.todos = SqliteTodos(observed)
        self.idempotency = SqliteIdempotency(observed)
        self.sessions = SqliteSessions(observed)
        self.attempts = SqliteAttempts(observed)
        self.changes = SqliteChanges(observed)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self.connection
        self._closing = True  # from here on, a late hook must not interrupt someone else's statement
        try:
            if self._stop_interrupt is not None and not self._stop_interrupt():
                # The request was cancelled: its hook fired, but may not have run yet. Interrupt
                # here, then wait for the statement to unwind in aiosqlite's thread (calls on a
                # connection run in order), so no work outlives the request.
                await conn.interrupt()
                if not await _usable(conn):
                    # A statement cut off mid-way can stay active and keep interrupting the
                    # next one: the next request gets a fresh connection instead.
                    conn = self.connection = await self._db.renew(conn)
            self._open = False
            if exc_type is not None or conn.in_transaction:
                # A call may have been cut off mid-way, or a transaction left open. Otherwise
                # every call has returned and there is nothing to wait for: no extra hop.
                conn = self.connection = await self._quiesce(conn)
        finally:
            self._db.release(conn)
            if self._write:
                self._db.write_lock.release()
        if _disk_full(exc):
            # SQLite rolled the transaction back (or _quiesce did): nothing of it was kept.
            raise _storage_full() from exc

    async def commit(self) -> None:
        if self._autocommit:
            return
        if not self._open:
            raise RuntimeError("commit on a read-only unit of work")
        await self.connection.commit()
        self._open = False

    async def _quiesce(self, conn: aiosqlite.Connection) -> aiosqlite.Connection:
        """``conn`` with no transaction open, once whatever it was running has finished
        (calls on a connection run in order); a fresh connection if it cannot be rolled back."""
        with contextlib.suppress(sqlite3.Error):
            await conn.execute("SELECT 1")
        if conn.in_transaction:
            try:
                await conn.rollback()
            except sqlite3.Error:
                return await self._db.renew(conn)
        return conn


def _statements(sql: str) -> list[str]:
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s]


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switching a new database to WAL needs it to itself, and SQLite does not wait for that
    (no busy handler): two migrators starting at once on a fresh file can meet "locked" here."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _migrate(path: str) -> list[Migration]:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        _enable_wal(conn)
        # One immediate transaction for the whole run: a second migrator waits, then finds
        # nothing to do. SQLite's DDL is transactional, so a failure leaves no half schema.
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " checksum TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')))"
        )
        applied = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
        try:
            todo = check_applied(load_migrations("sqlite"), applied)
            for migration in todo:
                for statement in _statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                    (migration.version, migration.name, migration.checksum),
                )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return todo
    finally:
        conn.close()


async def migrate_sqlite(url: str) -> list[Migration]:
    return await asyncio.to_thread(_migrate, sqlite_path(url))
