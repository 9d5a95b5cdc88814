"""Per-worker samples: CPU time, resident memory, event-loop lag, pool states, GC pauses."""

from __future__ import annotations

import asyncio
import collections
import gc
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from todostack.observability.metrics import Metrics
from todostack.runtime.memory import resident_bytes
from todostack.runtime.readings import RuntimeReading

__all__ = ["GcWatch", "PoolState", "ProcessSampler", "RuntimeReading"]


@dataclass(frozen=True, slots=True)
class PoolState:
    in_use: int
    idle: int
    waiting: int


class ProcessSampler:
    """Every ``interval`` seconds, set the worker's gauges; the lag is how late the timer fired."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        pool: Callable[[], PoolState] | None = None,
        inflight: Callable[[], int] | None = None,
        runtime: Callable[[], RuntimeReading] | None = None,
        gc_watch: GcWatch | None = None,
        interval: float = 2.0,
    ) -> None:
        self.gc_watch = gc_watch
        self.metrics = metrics
        self.pool = pool
        self.inflight = inflight
        self.runtime = runtime
        self.interval = interval

    def sample(self, lag: float) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        m = self.metrics
        m.cpu_seconds.set(usage.ru_utime + usage.ru_stime)
        m.rss_bytes.set(resident_bytes())
        m.loop_lag.set(max(0.0, lag))
        if self.gc_watch is not None:
            self.gc_watch.flush()
        if self.inflight is not None:
            m.inflight.set(self.inflight())
        if self.runtime is not None:
            r = self.runtime()
            m.effective_cpus.set(r.effective_cpus)
            m.cpu_quota.set(r.cpu_quota if r.cpu_quota is not None else -1)
            for gauge, value in (
                (m.throttled_periods, r.throttled_periods),
                (m.throttled_seconds, r.throttled_seconds),
                (m.cpu_pressure, r.cpu_pressure),
                (m.memory_pressure, r.memory_pressure),
            ):
                if value is not None:
                    gauge.set(value)
        if self.pool is not None:
            state = self.pool()
            m.db_pool.labels("in_use").set(state.in_use)
            m.db_pool.labels("idle").set(state.idle)
            m.db_pool.labels("waiting").set(state.waiting)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.sample(0.0)
        while True:
            expected = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.sample(loop.time() - expected)


class GcWatch:
    """Counts collections and times their pauses per generation, for the sampler to publish.

    The callback runs wherever an allocation triggers a collection, including inside
    prometheus_client while it holds its (non-reentrant) lock: it must take no lock itself, so it
    only appends to a bounded deque, and ``flush`` (on the sampler's schedule) does the rest.
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._started = 0.0
        self._pauses: collections.deque[tuple[int, float]] = collections.deque(maxlen=10_000)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._pauses.append((int(info.get("generation", 0)), time.perf_counter() - self._started))

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        self.flush()

    def flush(self) -> None:
        m = self.metrics
        # Only what is there now: these updates allocate, and may add collections of their own.
        for _ in range(len(self._pauses)):
            generation, seconds = self._pauses.popleft()
            m.gc_collections.labels(str(generation)).inc()
            m.gc_pause.labels(str(generation)).observe(seconds)
