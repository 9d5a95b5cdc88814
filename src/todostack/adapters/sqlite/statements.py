"""The repositories' two calls, ``execute`` and ``fetchall``, run through the database's
``StatementTimer`` (metrics, probes, spans).

Each call on an aiosqlite connection is a hop to its thread and back, and the way back waits its
turn on a busy event loop: ``fetchall`` runs a statement and reads its rows in one hop, where a
cursor takes three (execute, fetch, close).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Coroutine, Generator, Iterable
from types import TracebackType
from typing import Any, TypeAlias, cast

import aiosqlite

from todostack.adapters.statements import StatementTimer

__all__ = ["ObservedConnection"]

_Rows: TypeAlias = Coroutine[Any, Any, list[sqlite3.Row]]


class ObservedConnection:
    __slots__ = ("raw", "timer")

    def __init__(self, raw: aiosqlite.Connection, timer: StatementTimer) -> None:
        self.raw = raw
        self.timer = timer

    def execute(self, sql: str, parameters: Iterable[Any] = ()) -> _Statement:
        """Awaitable (the cursor) and an async context manager (closing it), like aiosqlite's."""
        return _Statement(self, sql, parameters)

    def fetchall(self, sql: str, parameters: Iterable[Any] = ()) -> _Rows:
        """Every row the statement gives (a ``SELECT``, or a write with ``RETURNING``)."""
        # The timer's own coroutine, handed back as is: no frame of ours around each statement.
        # aiosqlite says Iterable; it is sqlite3's list.
        return cast(_Rows, self.timer.run(self.raw.execute_fetchall, sql, (parameters,)))

    async def fetchone(self, sql: str, parameters: Iterable[Any] = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, parameters)
        return rows[0] if rows else None


class _Statement:
    __slots__ = ("_conn", "_cursor", "_parameters", "_sql")

    def __init__(self, conn: ObservedConnection, sql: str, parameters: Iterable[Any]) -> None:
        self._conn = conn
        self._sql = sql
        self._parameters = parameters
        self._cursor: aiosqlite.Cursor | None = None

    def _run(self) -> Coroutine[Any, Any, aiosqlite.Cursor]:
        conn = self._conn
        return conn.timer.run(conn.raw.execute, self._sql, (self._parameters,))

    def __await__(self) -> Generator[Any, None, aiosqlite.Cursor]:
        return self._run().__await__()

    async def __aenter__(self) -> aiosqlite.Cursor:
        self._cursor = await self._run()
        return self._cursor

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._cursor is not None:
            await self._cursor.close()
