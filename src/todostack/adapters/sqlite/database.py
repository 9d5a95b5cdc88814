"""SQLite: a small pool of aiosqlite connections in WAL mode, units of work and migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from types import TracebackType
from typing import Self

import aiosqlite

from todostack.adapters.migrations import Migration, check_applied, load_migrations
from todostack.adapters.sqlite.repositories import (
    SqliteIdempotency,
    SqliteLists,
    SqliteTodos,
    SqliteUsers,
)

__all__ = ["SqliteDatabase", "migrate_sqlite", "sqlite_path"]

BUSY_TIMEOUT_MS = 5000


def sqlite_path(url: str) -> str:
    """``sqlite:///var/x.db`` is relative, ``sqlite:////srv/x.db`` absolute, ``sqlite://:memory:``."""
    rest = url.removeprefix("sqlite://")
    if rest in (":memory:", "/:memory:"):
        return ":memory:"
    return rest.removeprefix("/") if not rest.startswith("//") else rest[1:]


async def _prepare(conn: aiosqlite.Connection) -> None:
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", f"busy_timeout={BUSY_TIMEOUT_MS}"):
        await conn.execute(f"PRAGMA {pragma}")
    # Unicode-aware lower() for text search (SQLite's own folds ASCII only).
    await conn.create_function("py_lower", 1, str.lower, deterministic=True)


class SqliteDatabase:
    def __init__(self, connections: list[aiosqlite.Connection]) -> None:
        self._idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for conn in connections:
            self._idle.put_nowait(conn)
        self._all = connections
        # SQLite has one writer at a time anyway; queueing writers here is cheaper than
        # letting them spin in SQLite's busy handler. Other processes still meet busy_timeout.
        self.write_lock = asyncio.Lock()

    @classmethod
    async def connect(cls, url: str, *, size: int = 4) -> SqliteDatabase:
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
        return cls(connections)

    def __call__(self, *, write: bool = False) -> SqliteUnitOfWork:
        return SqliteUnitOfWork(self, write=write)

    async def acquire(self) -> aiosqlite.Connection:
        return await self._idle.get()

    def release(self, conn: aiosqlite.Connection) -> None:
        self._idle.put_nowait(conn)

    async def ping(self) -> None:
        conn = await self.acquire()
        try:
            await conn.execute("SELECT 1")
        finally:
            self.release(conn)

    async def close(self) -> None:
        for conn in self._all:
            await conn.close()


class SqliteUnitOfWork:
    users: SqliteUsers
    lists: SqliteLists
    todos: SqliteTodos
    idempotency: SqliteIdempotency

    def __init__(self, db: SqliteDatabase, *, write: bool) -> None:
        self._db = db
        self._write = write
        self._open = False

    async def __aenter__(self) -> Self:
        if self._write:
            await self._db.write_lock.acquire()
        try:
            self._conn = await self._db.acquire()
            if self._write:
                try:
                    await self._conn.execute("BEGIN IMMEDIATE")
                except BaseException:
                    self._db.release(self._conn)
                    raise
                self._open = True
        except BaseException:
            if self._write:
                self._db.write_lock.release()
            raise
        self.users = SqliteUsers(self._conn)
        self.lists = SqliteLists(self._conn)
        self.todos = SqliteTodos(self._conn)
        self.idempotency = SqliteIdempotency(self._conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._open:
                await self._conn.rollback()
        finally:
            self._db.release(self._conn)
            if self._write:
                self._db.write_lock.release()

    async def commit(self) -> None:
        if not self._open:
            raise RuntimeError("commit on a read-only unit of work")
        await self._conn.commit()
        self._open = False


def _statements(sql: str) -> list[str]:
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s]


def _migrate(path: str) -> list[Migration]:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
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
