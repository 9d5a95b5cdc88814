"""Every statement runs within the current request's remaining budget.

The budget goes to asyncpg as the statement's driver timeout: when it runs out, asyncpg sends
PostgreSQL a cancel request, so the server stops working on the abandoned query. Write
transactions also carry it as ``SET LOCAL statement_timeout`` (see ``database.py``). A task
cancelled for any other cause (client gone, shutdown) is cancelled on the server the same way.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import asyncpg

from todostack import context
from todostack.adapters.storage import StatementObserver
from todostack.context import DeadlineExceeded
from todostack.ebpf import probes
from todostack.observability import tracing
from todostack.observability.tracing import Database

__all__ = ["Conn", "TimedConnection", "statement_timeout"]

Conn: TypeAlias = "asyncpg.Connection[Any]"


def statement_timeout() -> float | None:
    """The remaining budget, or ``DeadlineExceeded`` when nothing is left to run a statement in."""
    left = context.remaining()
    if left is not None and left <= 0.0:
        raise DeadlineExceeded("the request ran out of time before the database answered")
    return left


class TimedConnection:
    """The four calls the repositories make, each bounded by the request's deadline, timed for
    the metrics and, when tracing is on, wrapped in a database client span."""

    __slots__ = ("db", "observe", "raw")

    def __init__(self, raw: Conn, db: Database | None = None, observe: StatementObserver | None = None) -> None:
        self.raw = raw
        self.db = db or Database("postgresql", "")
        self.observe = observe

    async def execute(self, query: str, *args: Any) -> str:
        result: str = await self._run(self.raw.execute, query, args)
        return result

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._run(self.raw.fetch, query, args)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._run(self.raw.fetchrow, query, args)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._run(self.raw.fetchval, query, args)

    async def _run(self, call: Callable[..., Awaitable[Any]], query: str, args: tuple[Any, ...]) -> Any:
        probes.db_start("postgresql", query)
        started = time.perf_counter()
        try:
            if not tracing.recording():
                return await call(query, *args, timeout=statement_timeout())
            with tracing.db_span(self.db, query):
                return await call(query, *args, timeout=statement_timeout())
        except (TimeoutError, asyncpg.QueryCanceledError):
            # The driver's timeout, or the server's statement_timeout: either way the budget is spent.
            raise _expired() from None
        finally:
            probes.db_done("postgresql", query, time.perf_counter() - started)
            if self.observe is not None:
                self.observe("postgresql", tracing.operation_of(query), time.perf_counter() - started)


def _expired() -> DeadlineExceeded:
    ctx = context.current()
    if ctx is not None:
        ctx.record(context.Cause.DEADLINE_EXCEEDED)
    return DeadlineExceeded("the request ran out of time while the database was working on it")
