"""OpenTelemetry metrics, exported over OTLP beside the Prometheus endpoint (when configured).

Same variables as the traces (see ``tracing``); ``OTEL_METRIC_EXPORT_INTERVAL`` (ms) sets how
often. Without an OTLP endpoint no meter is made and recording costs one comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry.metrics import Counter, Histogram, UpDownCounter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader

from todostack import __version__
from todostack.observability.tracing import otlp_endpoint, otlp_protocol, resource, tracing_disabled

__all__ = ["OtelInstruments", "setup_metrics"]


@dataclass(frozen=True, slots=True)
class OtelInstruments:
    provider: MeterProvider
    request_duration: Histogram
    db_duration: Histogram
    active_requests: UpDownCounter
    cancelled: Counter


def _otlp_exporter(env: Mapping[str, str]) -> MetricExporter:
    if otlp_protocol(env, "metrics") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcExporter

        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpExporter

    return HttpExporter()


def setup_metrics(env: Mapping[str, str], *, exporter: MetricExporter | None = None) -> OtelInstruments | None:
    if tracing_disabled(env) or (exporter is None and otlp_endpoint(env, "metrics") is None):
        return None
    reader = PeriodicExportingMetricReader(exporter if exporter is not None else _otlp_exporter(env))
    provider = MeterProvider(resource=resource(env), metric_readers=[reader])
    meter = provider.get_meter("todostack", __version__)
    return OtelInstruments(
        provider=provider,
        request_duration=meter.create_histogram(
            "http.server.request.duration", unit="s", description="Duration of HTTP server requests"
        ),
        db_duration=meter.create_histogram(
            "db.client.operation.duration", unit="s", description="Duration of database client operations"
        ),
        active_requests=meter.create_up_down_counter(
            "http.server.active_requests", unit="{request}", description="Requests being served"
        ),
        cancelled=meter.create_counter(
            "todostack.requests.cancelled", unit="{request}", description="Requests cancelled, by cause"
        ),
    )
