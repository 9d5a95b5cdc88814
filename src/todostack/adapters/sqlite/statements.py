"""The repositories' two calls, ``execute`` and ``fetchall``, timed for the metrics and traced when
tracing is on.

Each call on an aiosqlite connection is a hop to its thread and back, and the way back waits its
turn on a busy event loop: ``fetchall`` runs a statement and reads its rows in one hop, where a
cursor takes three (execute, fetch, close).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Generator, Iterable
from types import TracebackType
from typing import Any

import aiosqlite

from todostack.adapters.storage import StatementObserver
from todostack.ebpf import probes
from todostack.observability import tracing
from todostack.observability.tracing import Database

__all__ = ["ObservedConnection"]


class ObservedConnection:
    __slots__ = ("db", "observe", "raw")

    def __init__(self, raw: aiosqlite.Connection, db: Database, observe: StatementObserver | None) -> None:
        self.raw = raw
        self.db = db
        self.observe = observe

    def execute(self, sql: str, parameters: Iterable[Any] = ()) -> _Statement:
        """Awaitable (the cursor) and an async context manager (closing it), like aiosqlite's."""
        return _Statement(self, sql, parameters)

    async def fetchall(self, sql: str, parameters: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Every row the statement gives (a ``SELECT``, or a write with ``RETURNING``)."""
        probes.db_start("sqlite", sql)
        started = time.perf_counter()
        try:
            if not tracing.recording():
                rows = await self.raw.execute_fetchall(sql, parameters)
            else:
                with tracing.db_span(self.db, sql):
                    rows = await self.raw.execute_fetchall(sql, parameters)
        finally:
            probes.db_done("sqlite", sql, time.perf_counter() - started)
            if self.observe is not None:
                self.observe("sqlite", tracing.operation_of(sql), time.perf_counter() - started)
        return rows  # type: ignore[return-value]  # aiosqlite says Iterable; it is sqlite3's list

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

    async def _run(self) -> aiosqlite.Cursor:
        conn = self._conn
        probes.db_start("sqlite", self._sql)
        started = time.perf_counter()
        try:
            if not tracing.recording():
                return await conn.raw.execute(self._sql, self._parameters)
            with tracing.db_span(conn.db, self._sql):
                return await conn.raw.execute(self._sql, self._parameters)
        finally:
            probes.db_done("sqlite", self._sql, time.perf_counter() - started)
            if conn.observe is not None:
                conn.observe("sqlite", tracing.operation_of(self._sql), time.perf_counter() - started)

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
