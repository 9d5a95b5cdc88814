"""Prometheus metrics of one worker; ``/metrics`` shows all workers in one scrape.

``todostack serve`` gives the workers a shared ``PROMETHEUS_MULTIPROC_DIR``: each worker writes
its samples to files there, and whichever worker answers ``/metrics`` adds them all up.
Without it (one process, tests) the metrics live in this object's own registry.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["MULTIPROC_ENV", "Metrics"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _multiprocess_dir() -> str | None:
    directory = os.environ.get(MULTIPROC_ENV) or None
    if directory is not None and values.ValueClass is values.MutexValue:
        # prometheus_client picks its value store when first imported; a process that imported
        # it before the directory was set would keep per-process values that no scrape sees.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return directory


class Metrics:
    def __init__(self) -> None:
        self.multiprocess_dir = _multiprocess_dir()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "todostack_http_requests_total", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.cancelled = Counter(
            "todostack_requests_cancelled_total", "Requests cancelled, by cause", ["cause"], registry=r
        )
        self.alerts = Counter("todostack_alerts_total", "Operational alerts, by kind", ["kind"], registry=r)
        self.alerts_dropped = Counter(
            "todostack_alerts_dropped_total", "Alerts dropped because the alert queue was full", registry=r
        )
        self.inflight = Gauge(
            "todostack_requests_in_flight", "Requests being served", registry=r, multiprocess_mode="livesum"
        )

    def exposition(self) -> bytes:
        """The text format of every worker's metrics (or this process's, without a shared dir)."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(merged)
