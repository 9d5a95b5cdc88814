"""Prometheus metrics of one worker; ``/metrics`` shows all workers in one scrape.

``todostack serve`` gives the workers a shared ``PROMETHEUS_MULTIPROC_DIR``: each worker writes
its samples to files there, and whichever worker answers ``/metrics`` adds them all up (per-worker
gauges keep a ``pid`` label). Without it (one process, tests) the metrics live in this object's
own registry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

from todostack.observability import MULTIPROC_ENV
from todostack.observability.labels import method_label, status_label
from todostack.observability.otel_metrics import OtelInstruments

__all__ = ["MULTIPROC_ENV", "Metrics"]


# Seconds: from a cache hit to the deadlines (5 s reads, 10 s writes).
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_DB_BUCKETS = (0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0)
_GC_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5)


def _multiprocess_dir() -> str | None:
    directory = os.environ.get(MULTIPROC_ENV) or None
    if directory is not None and values.ValueClass is values.MutexValue:
        # prometheus_client picks its value store when first imported; a process that imported
        # it before the directory was set would keep per-process values that no scrape sees.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return directory


_MAX_CACHED_SERIES = 4096


@dataclass(frozen=True, slots=True)
class _RequestSeries:
    count: Any  # prometheus_client's label children
    duration: Any
    attributes: dict[str, str | int]  # the same labels, for OpenTelemetry


class Metrics:
    def __init__(self, otel: OtelInstruments | None = None) -> None:
        self.otel = otel  # OpenTelemetry instruments, when OTLP export is on
        self._request_series: dict[tuple[str, str, int], _RequestSeries] = {}
        self._statement_series: dict[tuple[str, str], tuple[Any, dict[str, str | int]]] = {}
        self.multiprocess_dir = _multiprocess_dir()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # -- requests ---------------------------------------------------------------------------
        self.requests = Counter(
            "todostack_http_requests_total", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.request_duration = Histogram(
            "http_server_request_duration_seconds",
            "Time to answer an HTTP request (OpenTelemetry's http.server.request.duration)",
            ["http_request_method", "http_route", "http_response_status_code"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.inflight = Gauge(
            "todostack_requests_in_flight", "Requests being served", registry=r, multiprocess_mode="livesum"
        )
        self.cancelled = Counter(
            "todostack_requests_cancelled_total", "Requests cancelled, by cause", ["cause"], registry=r
        )
        # -- database -----------------------------------------------------------------------------
        self.db_duration = Histogram(
            "db_client_operation_duration_seconds",
            "Time of one database statement (OpenTelemetry's db.client.operation.duration)",
            ["db_system_name", "db_operation_name"],
            buckets=_DB_BUCKETS,
            registry=r,
        )
        self.db_pool = Gauge(
            "todostack_db_pool_connections",
            "Database connections per state (in_use, idle) and requests waiting for one (waiting)",
            ["state"],
            registry=r,
            multiprocess_mode="livesum",
        )
        # -- alerts -----------------------------------------------------------------------------
        self.alerts = Counter("todostack_alerts_total", "Operational alerts, by kind", ["kind"], registry=r)
        self.alerts_dropped = Counter(
            "todostack_alerts_dropped_total", "Alerts dropped because the alert queue was full", registry=r
        )
        # -- the worker process -------------------------------------------------------------------
        self.cpu_seconds = Gauge(
            "todostack_process_cpu_seconds", "CPU time of this worker", registry=r, multiprocess_mode="all"
        )
        self.rss_bytes = Gauge(
            "todostack_process_resident_memory_bytes",
            "Resident memory of this worker",
            registry=r,
            multiprocess_mode="all",
        )
        self.loop_lag = Gauge(
            "todostack_event_loop_lag_seconds",
            "How late the event loop ran a timer in the last check",
            registry=r,
            multiprocess_mode="all",
        )
        self.gc_collections = Counter(
            "todostack_gc_collections_total", "Garbage collections, per generation", ["generation"], registry=r
        )
        self.gc_pause = Histogram(
            "todostack_gc_pause_seconds",
            "Garbage collection pauses, per generation",
            ["generation"],
            buckets=_GC_BUCKETS,
            registry=r,
        )
        self._runtime_metrics(r)
        self._autoprof_metrics(r)

    def _autoprof_metrics(self, r: CollectorRegistry) -> None:
        # The profiling watcher's own health: is it checking, what does it see, does it report.
        self.autoprof_checks = Counter(
            "todostack_autoprof_checks_total", "Watcher checks, by result (ok, failed)", ["result"], registry=r
        )
        self.autoprof_usage = Gauge(
            "todostack_autoprof_usage_ratio",
            "What the watcher last measured, per metric (cpu, memory: share of the limit; lag: seconds; "
            "throttling: share of periods throttled)",
            ["metric"],
            registry=r,
            multiprocess_mode="all",
        )
        self.autoprof_last_check = Gauge(
            "todostack_autoprof_last_check_timestamp_seconds",
            "When the watcher last read its metrics successfully (Unix time)",
            registry=r,
            multiprocess_mode="all",
        )
        self.autoprof_reports = Counter(
            "todostack_autoprof_reports_total",
            "Profiles captured and reported, by the metric that fired",
            ["metric"],
            registry=r,
        )
        self.autoprof_report_failures = Counter(
            "todostack_autoprof_report_failures_total",
            "Reports a reporter failed to deliver",
            ["reporter"],
            registry=r,
        )

    def _runtime_metrics(self, r: CollectorRegistry) -> None:
        # The container's numbers are the same for every worker: "max" shows them once.
        def shared(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, registry=r, multiprocess_mode="max")

        self.build_info = Gauge(
            "todostack_build_info",
            "Always 1: what this service runs on (version, Python, the workers' event loop)",
            ["version", "python", "event_loop"],
            registry=r,
            multiprocess_mode="max",
        )
        self.effective_cpus = shared("todostack_effective_cpus", "CPUs this service may use (cgroup quota, affinity)")
        self.cpu_quota = shared("todostack_cpu_quota_cpus", "The cgroup CPU quota in CPUs (-1: none)")
        self.throttled_periods = shared(
            "todostack_cgroup_cpu_throttled_periods", "cpu.stat nr_throttled: periods the quota stopped the group"
        )
        self.throttled_seconds = shared(
            "todostack_cgroup_cpu_throttled_seconds", "cpu.stat throttled time of the group, in seconds"
        )
        self.cpu_pressure = shared("todostack_cpu_pressure_ratio", "PSI cpu 'some avg10': share of time tasks waited")
        self.memory_pressure = shared("todostack_memory_pressure_ratio", "PSI memory 'some avg10'")
        self.guard_steps = Counter(
            "todostack_memory_guard_steps_total",
            "Memory guard actions: collected (back under the share) or recycled (drained for a fresh worker)",
            ["step"],
            registry=r,
        )

    def _series(self, method: str, route: str, status: int) -> _RequestSeries:
        """The label children of one (method, route, status), looked up once and kept: on every
        request, ``labels()`` would build label tuples and take a lock just to find them again."""
        key = (method, route, status)
        series = self._request_series.get(key)
        if series is None:
            code = str(status)
            series = _RequestSeries(
                self.requests.labels(method, route, code),
                self.request_duration.labels(method, route, code),
                {"http.request.method": method, "http.route": route, "http.response.status_code": status},
            )
            if len(self._request_series) < _MAX_CACHED_SERIES:  # routes are templates: a few hundred
                self._request_series[key] = series
        return series

    def observe_request(self, method: str, route: str, status: int, seconds: float, cause: str | None) -> None:
        """Labels are bounded: ``route`` is a template (or "unmatched"), ``method`` and ``status``
        are folded into known values here."""
        series = self._series(method_label(method), route, status_label(status))
        series.count.inc()
        series.duration.observe(seconds)
        if cause is not None:
            self.cancelled.labels(cause).inc()
        otel = self.otel
        if otel is not None:
            otel.request_duration.record(seconds, series.attributes)
            if cause is not None:
                otel.cancelled.add(1, {"todostack.cancel.cause": cause})

    def observe_statement(self, system: str, operation: str, seconds: float) -> None:
        key = (system, operation)
        cached = self._statement_series.get(key)
        if cached is None:
            cached = (
                self.db_duration.labels(system, operation),
                {"db.system.name": system, "db.operation.name": operation},
            )
            if len(self._statement_series) < _MAX_CACHED_SERIES:
                self._statement_series[key] = cached
        cached[0].observe(seconds)
        otel = self.otel
        if otel is not None:
            otel.db_duration.record(seconds, cached[1])

    def exposition(self) -> bytes:
        """The text format of every worker's metrics (or this process's, without a shared dir)."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(merged)
