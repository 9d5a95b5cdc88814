"""Every statement runs within the current request's remaining budget.

The budget goes to asyncpg as the statement's driver timeout: when it runs out, asyncpg sends
PostgreSQL a cancel request, so the server stops working on the abandoned query. Write
transactions also carry it as ``SET LOCAL statement_timeout`` (see ``unit_of_work.py``). A task
cancelled for any other cause (client gone, shutdown) is cancelled on the server the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import asyncpg

from todostack import context
from todostack.adapters.statements import StatementTimer
from todostack.adapters.storage import StatementObserver
from todostack.context import DeadlineExceeded
from todostack.observability.db_spans import Database
from todostack.observability.tracing import Tracing

__all__ = ["Conn", "TimedConnection", "postgres_timer", "statement_timeout"]

Conn: TypeAlias = "asyncpg.Connection[Any]"


def statement_timeout() -> float | None:
    """The remaining budget, or ``DeadlineExceeded`` when nothing is left to run a statement in."""
    left = context.remaining()
    if left is not None and left <= 0.0:
        raise DeadlineExceeded("the request ran out of time before the database answered")
    return left


def postgres_timer(
    db: Database, observe: StatementObserver | None = None, tracing: Tracing | None = None
) -> StatementTimer:
    """The statement timer of a PostgreSQL database: each statement bounded by the request's budget."""
    return StatementTimer(db, observe, tracing, timeout=statement_timeout)


_UNNAMED = postgres_timer(Database("postgresql", ""))


class TimedConnection:
    """The four calls the repositories make, each bounded by the request's deadline and run
    through the database's ``StatementTimer`` (metrics, probes, spans)."""

    __slots__ = ("raw", "timer")

    def __init__(self, raw: Conn, timer: StatementTimer = _UNNAMED) -> None:
        self.raw = raw
        self.timer = timer

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
        try:
            return await self.timer.run(call, query, args)
        except (TimeoutError, asyncpg.QueryCanceledError):
            # The driver's timeout, or the server's statement_timeout: either way the budget is spent.
            raise _expired() from None


def _expired() -> DeadlineExceeded:
    ctx = context.current()
    if ctx is not None:
        ctx.record(context.Cause.DEADLINE_EXCEEDED)
    return DeadlineExceeded("the request ran out of time while the database was working on it")
