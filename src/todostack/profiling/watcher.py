"""The watcher: autopprof for this worker, in a thread of its own.

Every ``interval`` it reads CPU, memory, CPU throttling and event-loop lag (``usage``), and
feeds each to its ``Trigger``. When one fires, and this worker is the one burning the CPU or
holding the memory (not an idle sibling in the same container), it takes a CPU profile (for
``cpu_seconds``), a heap profile (if tracemalloc is tracing) and a task dump, whatever metric
fired, and hands the report to every reporter. A thread, not a task: it must keep watching, and
profile, while the event loop is blocked. A failed read is logged and counted, and the watcher
backs off (up to a minute) and keeps going.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from todostack.ebpf import probes
from todostack.observability.metrics import Metrics
from todostack.profiling.profiler import Profiler
from todostack.profiling.report import Breach, Report
from todostack.profiling.reporters import Reporter
from todostack.profiling.triggers import Trigger
from todostack.profiling.usage import LagProbe, Reading, UsageReader
from todostack.runtime.profiling_settings import ProfilingSettings

__all__ = ["Watcher", "WatcherState"]

log = logging.getLogger("todostack.autoprof")
_MAX_BACKOFF = 60.0


@dataclass(slots=True)
class WatcherState:
    checks: int = 0
    failures: int = 0
    reports: int = 0
    warming_up: bool = True


class Watcher:
    def __init__(
        self,
        settings: ProfilingSettings,
        profiler: Profiler,
        reporters: Sequence[Reporter],
        *,
        workers: int = 1,
        reader: UsageReader | None = None,
        lag: LagProbe | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.profiler = profiler
        self.reporters = list(reporters)
        self.workers = max(1, workers)
        self.reader = reader or UsageReader()
        self.lag = lag
        self.metrics = metrics
        self.state = WatcherState()
        self._window: collections.deque[Reading] = collections.deque(maxlen=settings.window_checks + 1)
        s = settings
        self.triggers = {
            "cpu": Trigger("cpu", s.cpu_threshold, s.suppress_checks, s.checks_in_a_row),
            "memory": Trigger("memory", s.memory_threshold, s.suppress_checks, s.checks_in_a_row),
        }
        if s.lag_threshold_seconds > 0:
            # One lag sample is one callback's wait: a machine-wide stall (another process, the
            # host) shows in every worker at once. CPU is averaged over a window; lag must last.
            in_a_row = max(s.checks_in_a_row, s.lag_checks_in_a_row)
            self.triggers["lag"] = Trigger("lag", s.lag_threshold_seconds, s.suppress_checks, in_a_row)
        if s.throttle_threshold > 0:
            throttling = Trigger("throttling", s.throttle_threshold, s.suppress_checks, s.checks_in_a_row)
            self.triggers["throttling"] = throttling
        self._thread: threading.Thread | None = None
        self._said: set[str] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="todostack-autoprof", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self.profiler.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = self.settings.interval_seconds
        while not self.profiler.stopping.wait(delay):
            try:
                self.check()
                delay = self.settings.interval_seconds
            except Exception:
                self.state.failures += 1
                if self.metrics is not None:
                    self.metrics.autoprof_checks.labels("failed").inc()
                delay = min(_MAX_BACKOFF, self.settings.interval_seconds * 2 ** min(self.state.failures, 10))
                log.exception("autoprof: a check failed; next one in %.1f s", delay)

    # -- one check ---------------------------------------------------------------------------

    def _say_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._said:
            self._said.add(key)
            log.info(message, *args)

    def measure(self) -> dict[str, tuple[float | None, str]]:
        """Read everything once; each metric's value (``None`` while unknown) and its scope."""
        reading = self.reader.read()
        self._window.append(reading)
        self._say_once(
            f"cpu-{reading.cpu_scope}",
            "autoprof: CPU measured against %s (%.2g CPUs)",
            "the cgroup quota" if reading.cpu_scope == "cgroup" else "this process's share of the machine (no quota)",
            reading.cpu_capacity,
        )
        self._say_once(
            f"memory-{reading.memory_scope}",
            "autoprof: memory measured against %s (%d MiB)",
            "the cgroup limit" if reading.memory_scope == "cgroup" else "the machine's memory (no cgroup limit)",
            reading.memory_limit >> 20,
        )
        values: dict[str, tuple[float | None, str]] = {}
        full = len(self._window) == self._window.maxlen
        if not full:
            self._say_once("warming", "autoprof: warming up (%d checks per CPU window)", self.settings.window_checks)
        elif self.state.warming_up:
            log.info("autoprof: CPU window full; watching")
        self.state.warming_up = not full
        first = self._window[0]
        elapsed = reading.at - first.at
        cpu = None
        if full and elapsed > 0:
            cpu = (reading.cpu_seconds - first.cpu_seconds) / elapsed / reading.cpu_capacity
        values["cpu"] = (cpu, reading.cpu_scope)
        values["memory"] = (reading.memory_bytes / reading.memory_limit, reading.memory_scope)
        if "lag" in self.triggers:
            values["lag"] = (self.lag.measure() if self.lag is not None else None, "process")
        if "throttling" in self.triggers:
            throttled = None
            counts = (reading.periods, first.periods, reading.throttled_periods, first.throttled_periods)
            if full and all(c is not None for c in counts):
                periods, periods_before, now_throttled, before_throttled = (int(c or 0) for c in counts)
                if periods > periods_before:
                    throttled = (now_throttled - before_throttled) / (periods - periods_before)
            values["throttling"] = (throttled, "cgroup")
        # Start tracing allocations on the way up, before the memory threshold is reached.
        memory = values["memory"][0]
        self.profiler.heap_tracking.update(None if memory is None else memory / self.settings.memory_threshold)
        return values

    def culprit(self, metric: str) -> bool:
        """Is this worker a real part of the group's usage? (Each worker watches the same group.)"""
        last, first = self._window[-1], self._window[0]
        fair = 1 / (2 * self.workers)
        if metric == "memory" and last.memory_scope == "cgroup":
            return last.own_memory_bytes >= fair * last.memory_bytes
        if metric in ("cpu", "throttling") and last.cpu_scope == "cgroup":
            group = last.cpu_seconds - first.cpu_seconds
            return group <= 0 or (last.own_cpu_seconds - first.own_cpu_seconds) >= fair * group
        return True  # measured on this process alone, or lag (which is this worker's own)

    def check(self) -> Report | None:
        values = self.measure()
        self.state.checks += 1
        if self.metrics is not None:
            self.metrics.autoprof_checks.labels("ok").inc()
            self.metrics.autoprof_last_check.set(time.time())
            for metric, (value, _) in values.items():
                if value is not None:
                    self.metrics.autoprof_usage.labels(metric).set(value)
        fired = [m for m, (value, _) in values.items() if self.triggers[m].update(value)]
        fired = [m for m in fired if self.culprit(m)]
        if not fired:
            return None
        metric = fired[0]
        value, scope = values[metric]
        assert value is not None
        breach = Breach(metric, value, self.triggers[metric].threshold, scope)
        seconds = self.settings.cpu_seconds
        log.warning("autoprof: %s; profiling pid %d for %g s", breach.describe(), os.getpid(), seconds)
        report = self.capture(breach)
        if len(fired) > 1:
            report.notes.append("also over threshold: " + ", ".join(fired[1:]))
        self.deliver(report)
        return report

    def capture(self, breach: Breach) -> Report:
        """All three profiles, whichever metric fired (the cause of one is often in another)."""
        notes = []
        heap = self.profiler.heap_if_tracing()
        tasks = self.profiler.tasks()  # first: the tasks as they were when the breach was seen
        cpu = self.profiler.cpu(self.settings.cpu_seconds)
        if heap is None:
            # Not tracing yet: trace for a while after the CPU profile (not during it, which
            # would slow down and so distort what the CPU profile shows).
            seconds = min(5.0, self.settings.cpu_seconds)
            heap = self.profiler.heap(seconds)
            notes.append(f"tracemalloc was not running: the heap profile covers {seconds:g} s after the breach")
            if breach.metric == "memory":
                self.profiler.heap_tracking.start()  # keep tracing: the next report sees it all
        return Report(breach, cpu, heap, tasks, os.getpid(), notes=notes)

    def deliver(self, report: Report) -> None:
        self.state.reports += 1
        probes.autoprof_report(report.breach.metric, report.breach.value)
        if self.metrics is not None:
            self.metrics.autoprof_reports.labels(report.breach.metric).inc()
        for reporter in self.reporters:
            try:
                reporter.send(report)
            except Exception as exc:  # noqa: BLE001 - a reporter's failure never reaches requests
                if self.metrics is not None:
                    self.metrics.autoprof_report_failures.labels(reporter.name).inc()
                log.error("autoprof: the %s reporter failed: %s: %s", reporter.name, type(exc).__name__, exc)
