"""What every SQL statement goes through, whichever driver runs it: the USDT probes around it,
its duration told to the ``StatementObserver`` (the metrics), and, when the request is traced, a
database client span. Each adapter keeps only what is its driver's own (PostgreSQL: the deadline
as the driver's timeout; SQLite: the hops to its thread)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from todostack.adapters.storage import StatementObserver
from todostack.ebpf import probes
from todostack.observability.db_spans import Database, db_span, operation_of
from todostack.observability.tracing import Tracing

__all__ = ["StatementTimer"]

T = TypeVar("T")


class StatementTimer:
    """One database's statements, timed, observed, probed and (when tracing) traced. Built once
    per database, shared by every unit of work on it."""

    __slots__ = ("db", "observe", "system", "timeout", "tracing")

    def __init__(
        self,
        db: Database,
        observe: StatementObserver | None = None,
        tracing: Tracing | None = None,
        *,
        timeout: Callable[[], float | None] | None = None,
    ) -> None:
        self.db = db
        self.system = db.system
        self.observe = observe
        self.tracing = tracing
        # A driver that takes a ``timeout`` per statement (asyncpg): asked for as each statement
        # starts, inside the probes, so a statement refused for want of time is still counted.
        self.timeout = timeout

    async def run(self, call: Callable[..., Awaitable[T]], sql: str, args: tuple[Any, ...]) -> T:
        """``await call(sql, *args)`` (``timeout=`` added when the driver takes one), with the
        probes, the observer and the span around it."""
        system = self.system
        probes.db_start(system, sql)
        started = time.perf_counter()
        try:
            tracing = self.tracing  # off (no tracer): two comparisons, no call
            tracer = tracing.recording_tracer() if tracing is not None and tracing.tracer is not None else None
            if self.timeout is not None:
                if tracer is None:
                    return await call(sql, *args, timeout=self.timeout())
                with db_span(tracer, self.db, sql):
                    return await call(sql, *args, timeout=self.timeout())
            if tracer is None:
                return await call(sql, *args)
            with db_span(tracer, self.db, sql):
                return await call(sql, *args)
        finally:
            elapsed = time.perf_counter() - started
            probes.db_done(system, sql, elapsed)
            if self.observe is not None:
                self.observe(system, operation_of(sql), elapsed)
