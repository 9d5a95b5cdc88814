"""A unit of work on SQLite: one pooled connection, the write lock and an immediate transaction for
writes, the statement interrupted when the request is cancelled, and the repositories on it."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self

import aiosqlite

from todostack import context
from todostack.adapters.sqlite.auth_tables import SqliteAttempts, SqliteSessions
from todostack.adapters.sqlite.changes import SqliteChanges
from todostack.adapters.sqlite.repositories import SqliteIdempotency, SqliteLists, SqliteUsers
from todostack.adapters.sqlite.statements import ObservedConnection
from todostack.adapters.sqlite.todos import SqliteTodos
from todostack.adapters.waiting import bounded_wait
from todostack.context import StorageFull

if TYPE_CHECKING:
    from todostack.adapters.sqlite.database import SqliteDatabase

__all__ = ["SqliteUnitOfWork"]


def _disk_full(exc: BaseException | None) -> bool:
    """SQLITE_FULL: the filesystem (or the database's size limit) has no room for the write."""
    return isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


def _storage_full() -> StorageFull:
    return StorageFull("the database's disk is full: this write was not kept; retry later")


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
