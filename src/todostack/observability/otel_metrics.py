"""OpenTelemetry metrics over OTLP, beside the Prometheus endpoint (when an endpoint is configured).

Same variables as the traces (see ``tracing`` and ``otel_env``); ``OTEL_METRIC_EXPORT_INTERVAL`` (ms, default
60000) sets how often. Without an OTLP endpoint nothing is set up and recording costs one
comparison.

Why not the SDK's ``MeterProvider``: its synchronous instruments cost ~8 µs a measurement here
(attribute hashing, a measurement object, two locks), and a request makes several (its duration,
each statement's), on every request whether its trace is sampled or not. That alone was most of
the tracing variant's throughput loss in the benchmark. These instruments aggregate in a dict
under one lock (~1 µs), and a thread turns the totals into the SDK's own ``MetricsData`` for the
SDK's OTLP exporter: the same bytes on the wire, cumulative temporality, explicit-bucket
histograms with the boundaries the semantic conventions advise for durations in seconds.

The SDK's metrics modules are imported where the totals are exported, not with this module: every
worker imports this one, and without an endpoint the SDK would be 0.1-0.2 s of its start for nothing.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from todostack import __version__
from todostack.observability.otel_env import otlp_endpoint, otlp_protocol, resource, tracing_disabled

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import Metric, MetricExporter, MetricsData
    from opentelemetry.sdk.resources import Resource

__all__ = ["OtelInstruments", "build_metrics"]

log = logging.getLogger("todostack.otel")
Attributes = Mapping[str, str | int]
_Key = tuple[tuple[str, str | int], ...]
# Seconds, per the semantic conventions' advice for http.server.request.duration.
_SECONDS_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


class _Series:
    __slots__ = ("buckets", "count", "max", "min", "sum")

    def __init__(self, buckets: int) -> None:
        self.count = 0
        self.sum = 0.0
        self.min = float("inf")
        self.max = float("-inf")
        self.buckets = [0] * buckets


class HistogramInstrument:
    def __init__(self, name: str, unit: str, description: str, bounds: tuple[float, ...] = _SECONDS_BOUNDS) -> None:
        self.name, self.unit, self.description, self.bounds = name, unit, description, bounds
        self._series: dict[_Key, _Series] = {}
        self._lock = threading.Lock()

    def record(self, value: float, attributes: Attributes) -> None:
        key = tuple(attributes.items())
        index = bisect.bisect_left(self.bounds, value)
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = _Series(len(self.bounds) + 1)
            series.count += 1
            series.sum += value
            series.buckets[index] += 1
            if value < series.min:
                series.min = value
            if value > series.max:
                series.max = value

    def collect(self, start: int, now: int) -> Metric | None:
        from opentelemetry.sdk.metrics.export import AggregationTemporality, Histogram, HistogramDataPoint, Metric

        with self._lock:
            points = [
                HistogramDataPoint(
                    attributes=dict(key),
                    start_time_unix_nano=start,
                    time_unix_nano=now,
                    count=s.count,
                    sum=s.sum,
                    bucket_counts=list(s.buckets),
                    explicit_bounds=list(self.bounds),
                    min=s.min,
                    max=s.max,
                    exemplars=[],
                )
                for key, s in self._series.items()
            ]
        if not points:
            return None
        data = Histogram(data_points=points, aggregation_temporality=AggregationTemporality.CUMULATIVE)
        return Metric(self.name, self.description, self.unit, data)


class SumInstrument:
    """A counter (monotonic) or an up-down counter; ``observe`` makes it read a value at export."""

    def __init__(
        self, name: str, unit: str, description: str, *, monotonic: bool, observe: Callable[[], float] | None = None
    ) -> None:
        self.name, self.unit, self.description, self.monotonic = name, unit, description, monotonic
        self._values: dict[_Key, float] = {}
        self._lock = threading.Lock()
        self.observe = observe

    def add(self, value: float, attributes: Attributes) -> None:
        key = tuple(attributes.items())
        with self._lock:
            self._values[key] = self._values.get(key, 0) + value

    def collect(self, start: int, now: int) -> Metric | None:
        from opentelemetry.sdk.metrics.export import AggregationTemporality, Metric, NumberDataPoint, Sum

        with self._lock:
            values = dict(self._values)
        if self.observe is not None:
            values[()] = self.observe()
        if not values:
            return None
        points = [NumberDataPoint(dict(key), start, now, value, exemplars=[]) for key, value in values.items()]
        data = Sum(points, AggregationTemporality.CUMULATIVE, is_monotonic=self.monotonic)
        return Metric(self.name, self.description, self.unit, data)


@dataclass(slots=True)
class OtelInstruments:
    exporter: MetricExporter
    resource: Resource
    interval_seconds: float
    request_duration: HistogramInstrument
    db_duration: HistogramInstrument
    active_requests: SumInstrument
    cancelled: SumInstrument
    _thread: threading.Thread | None = None
    _stop: threading.Event | None = None
    _start: int = 0

    def collect(self) -> MetricsData:
        from opentelemetry.sdk.metrics.export import MetricsData, ResourceMetrics, ScopeMetrics
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        now = time.time_ns()
        instruments = (self.request_duration, self.db_duration, self.active_requests, self.cancelled)
        metrics = [m for i in instruments if (m := i.collect(self._start, now)) is not None]
        scope = InstrumentationScope("todostack", __version__)
        return MetricsData([ResourceMetrics(self.resource, [ScopeMetrics(scope, metrics, "")], "")])

    def export(self) -> None:
        from opentelemetry.sdk.metrics.export import MetricExportResult

        try:
            result = self.exporter.export(self.collect(), timeout_millis=10_000)
        except Exception as exc:  # noqa: BLE001 - telemetry never takes the service down
            log.warning("OTLP metrics export failed: %s", exc)
            return
        if result is not MetricExportResult.SUCCESS:
            log.warning("OTLP metrics export failed")

    def start(self) -> None:
        self._start = time.time_ns()
        self._stop = threading.Event()
        stop = self._stop

        def run() -> None:
            while not stop.wait(self.interval_seconds):
                self.export()

        self._thread = threading.Thread(target=run, name="todostack-otlp-metrics", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Stop the thread, send what was measured once more, and close the exporter."""
        if self._stop is not None:
            self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.export()
        self.exporter.shutdown()


def _otlp_exporter(env: Mapping[str, str]) -> MetricExporter:
    if otlp_protocol(env, "metrics") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcExporter

        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpExporter

    return HttpExporter()


def _interval_seconds(env: Mapping[str, str]) -> float:
    raw = env.get("OTEL_METRIC_EXPORT_INTERVAL", "").strip()
    try:
        millis = float(raw) if raw else 60_000.0
    except ValueError:
        log.warning("OTEL_METRIC_EXPORT_INTERVAL is not a number (%r): using 60000 ms", raw)
        millis = 60_000.0
    return max(millis, 100.0) / 1000


def build_metrics(
    env: Mapping[str, str],
    *,
    exporter: MetricExporter | None = None,
    active_requests: Callable[[], float] | None = None,
) -> OtelInstruments | None:
    """The instruments, when an OTLP endpoint is configured; ``start`` (in the worker) exports."""
    if tracing_disabled(env) or (exporter is None and otlp_endpoint(env, "metrics") is None):
        return None
    instruments = OtelInstruments(
        exporter=exporter if exporter is not None else _otlp_exporter(env),
        resource=resource(env),
        interval_seconds=_interval_seconds(env),
        request_duration=HistogramInstrument("http.server.request.duration", "s", "Duration of HTTP server requests"),
        db_duration=HistogramInstrument(
            "db.client.operation.duration",
            "s",
            "Duration of database client operations",
            (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0),
        ),
        active_requests=SumInstrument(
            "http.server.active_requests",
            "{request}",
            "Requests being served",
            monotonic=False,
            observe=active_requests,
        ),
        cancelled=SumInstrument(
            "todostack.requests.cancelled", "{request}", "Requests cancelled, by cause", monotonic=True
        ),
    )
    return instruments
