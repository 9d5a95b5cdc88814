"""A unit of work on PostgreSQL: one pooled connection, a transaction for writes, bounded by the
request's budget, and the repositories on it."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TYPE_CHECKING, Self

import asyncpg

from todostack import context
from todostack.adapters.postgres.auth_tables import PgAttempts, PgSessions
from todostack.adapters.postgres.changes import PgChanges
from todostack.adapters.postgres.deadlines import TimedConnection, statement_timeout
from todostack.adapters.postgres.repositories import PgIdempotency, PgLists, PgUsers
from todostack.adapters.postgres.todos import PgTodos
from todostack.adapters.postgres.unavailable import is_unavailable, unavailable
from todostack.context import DeadlineExceeded
from todostack.domain import TodoError

if TYPE_CHECKING:
    from todostack.adapters.postgres.database import PostgresDatabase

__all__ = ["PostgresUnitOfWork"]


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
        self.connection = conn = TimedConnection(self._conn, self._db.timer)
        self.users = PgUsers(conn)
        self.lists = PgLists(conn)
        self.todos = PgTodos(conn, self._db.owner_sizes)
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
        if self._autocommit:  # its one statement committed on its own
            self._db.wrote.set()
            return
        if not self._open:
            raise RuntimeError("commit on a read-only unit of work")
        try:
            await self._conn.execute("COMMIT", timeout=statement_timeout())
        except (TimeoutError, asyncpg.QueryCanceledError):
            raise DeadlineExceeded("the request ran out of time while committing") from None
        self._open = False
        self._db.wrote.set()
