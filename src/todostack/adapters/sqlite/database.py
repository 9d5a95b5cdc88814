"""SQLite: a small pool of aiosqlite connections in WAL mode, readiness; units of work open on it
(``unit_of_work.py``); migrations: ``migrate.py``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from pathlib import Path

import aiosqlite

from todostack.adapters.migrations import load_migrations
from todostack.adapters.sqlite.unit_of_work import SqliteUnitOfWork
from todostack.adapters.statements import StatementTimer
from todostack.adapters.storage import StatementObserver
from todostack.adapters.waiting import bounded_wait
from todostack.observability.db_spans import Database
from todostack.observability.tracing import Tracing

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CHECKPOINT_SECONDS",
    "RESTART_FRAMES",
    "RESTART_WAIT_MS",
    "WAL_BACKSTOP_PAGES",
    "SqliteDatabase",
    "connection_pragmas",
    "sqlite_path",
]

log = logging.getLogger("todostack.db.sqlite")

BUSY_TIMEOUT_MS = 5000
# Page cache per connection (SQLite's default is 2 MiB). A worker holds a pool of them, and a page
# it misses is a read from the kernel's page cache, which every connection and worker share.
CACHE_KIB = 1024
# Copying the WAL back into the database file (a checkpoint) is the pool's own task, every
# CHECKPOINT_SECONDS on a connection of its own. Left to SQLite, the commit that takes the WAL past
# 1,000 pages does it, with an fsync, inside its request and inside the pool's write lock, while
# every other write waits: a create cost 0.6 ms of SQLite without that and 0.8 ms with it at 1 M
# todos, p99 1.4 against 16 ms (docs/benchmarks.md, "SQLite create at 1 M").
# A passive checkpoint waits for nobody, but under a steady stream of writes it never catches up
# with the last commit, and the WAL only starts again from its beginning after one that did (passive
# ones alone let it grow to the backstop under the create benchmark, 55 MB): past
# RESTART_FRAMES the task follows it with a RESTART checkpoint, which holds writers back for what
# the passive one left (a few pages and their sync) and until readers leave the WAL, at most
# RESTART_WAIT_MS; busy, it tries again next turn. A request connection checkpoints only if the WAL
# passes WAL_BACKSTOP_PAGES (40 MiB), should the task fall behind.
CHECKPOINT_SECONDS = 0.1
RESTART_FRAMES = 4000
RESTART_WAIT_MS = 100
WAL_BACKSTOP_PAGES = 10_000


def sqlite_path(url: str) -> str:
    """``sqlite:///var/x.db`` is relative, ``sqlite:////srv/x.db`` absolute, ``sqlite://:memory:``."""
    rest = url.removeprefix("sqlite://")
    if rest in (":memory:", "/:memory:"):
        return ":memory:"
    return rest.removeprefix("/") if not rest.startswith("//") else rest[1:]


def connection_pragmas(*, checkpoints: bool) -> tuple[str, ...]:
    """The settings of every pooled connection; ``checkpoints``: the pool's task checkpoints."""
    return (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        f"busy_timeout={BUSY_TIMEOUT_MS}",
        f"cache_size=-{CACHE_KIB}",
        f"wal_autocheckpoint={WAL_BACKSTOP_PAGES if checkpoints else 1000}",  # 1000: SQLite's own
    )


async def _prepare(conn: aiosqlite.Connection, *, checkpoints: bool) -> None:
    for pragma in connection_pragmas(checkpoints=checkpoints):
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
        checkpointer: aiosqlite.Connection | None = None,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
    ) -> None:
        self._path = path
        self._checkpointer = checkpointer
        self._checkpoints: asyncio.Task[None] | None = None
        if checkpointer is not None:
            self._checkpoints = asyncio.create_task(
                self._checkpoint_forever(checkpointer, checkpoint_seconds), name="todostack-sqlite-checkpoints"
            )
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
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
    ) -> SqliteDatabase:
        """A pool of ``size`` connections; ``checkpoint_seconds`` 0 leaves checkpoints to SQLite."""
        path = sqlite_path(url)
        in_memory = path == ":memory:"
        if in_memory:
            size = 1  # every connection to :memory: is a database of its own
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        checkpoints = not in_memory and checkpoint_seconds > 0
        connections = []
        for _ in range(size):
            conn = await aiosqlite.connect(path, isolation_level=None)
            await _prepare(conn, checkpoints=checkpoints)
            connections.append(conn)
        if in_memory:
            # Nobody else can see this database: migrate it on its only connection.
            for migration in load_migrations("sqlite"):
                await connections[0].executescript(migration.sql)
        checkpointer = None
        if checkpoints:
            checkpointer = await aiosqlite.connect(path, isolation_level=None)
            await checkpointer.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")  # passive ones never wait
        return cls(
            connections,
            acquire_timeout=acquire_timeout,
            path=path,
            observe=observe,
            tracing=tracing,
            checkpointer=checkpointer,
            checkpoint_seconds=checkpoint_seconds,
        )

    @staticmethod
    async def _checkpoint_forever(conn: aiosqlite.Connection, seconds: float) -> None:
        """Every ``seconds``, a passive checkpoint (it copies what it can without waiting for anyone),
        then a restarting one if the WAL has grown past ``RESTART_FRAMES``; in aiosqlite's thread.
        Another worker's checkpointer may be at it already: then this turn does nothing."""
        failing = False
        while True:
            await asyncio.sleep(seconds)
            try:
                [(_, frames, _)] = await conn.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
                if frames >= RESTART_FRAMES:
                    await conn.execute_fetchall("PRAGMA wal_checkpoint(RESTART)")
            except sqlite3.Error as exc:  # a full disk, say: the WAL keeps the writes meanwhile
                if not failing:
                    log.warning("sqlite checkpoint failed, retrying every %.1f s: %s", seconds, exc)
                failing = True
            else:
                if failing:
                    log.info("sqlite checkpoint works again")
                failing = False

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
        await _prepare(fresh, checkpoints=self._checkpointer is not None)
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
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoints
        if self._checkpointer is not None:
            await self._checkpointer.close()
        for conn in self._all:
            await conn.close()
