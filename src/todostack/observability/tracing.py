"""OpenTelemetry traces, configured only through the standard ``OTEL_*`` variables.

Each worker has one ``Tracing``, built by the composition root and handed to whatever makes spans
(the request scope, the error handler, the use cases' wrapper, the SQL adapters). It is set up
inside the worker, after the fork (exporters started before a fork break). With no OTLP endpoint
(and no exporter handed in by a test) nothing is set up: its ``tracer`` stays ``None`` and every
instrumented place skips its span work with one comparison.

Variables read: ``OTEL_SDK_DISABLED``, ``OTEL_SERVICE_NAME`` (default ``todostack``),
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``…_TRACES_ENDPOINT``),
``OTEL_EXPORTER_OTLP_PROTOCOL`` (``http/protobuf``, the default, or ``grpc``),
``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` (default: parent-based, ratio 1.0), and the
SDK's own ``OTEL_BSP_*`` batching variables.

The spans themselves: ``server_spans`` (one per request), ``usecase_spans`` (one per use case
call), ``db_spans`` (one per statement).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.trace import Tracer

from todostack import __version__
from todostack.observability.otel_env import otlp_endpoint, otlp_protocol, resource, tracing_disabled

if TYPE_CHECKING:
    # The SDK (28 modules, 0.6 MiB of a worker) is imported by ``setup_tracing``, only when tracing is on.
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["TRACE_ID_LIMIT", "Tracing", "current_ids", "setup_tracing"]

TRACE_ID_LIMIT = (1 << 64) - 1


class Tracing:
    """One worker's tracer: ``None`` (the default) while tracing is off."""

    __slots__ = ("root_bound", "tracer")

    def __init__(self) -> None:
        self.tracer: Tracer | None = None
        # With the default sampler (parent-based, ratio r), a request that starts a trace is
        # decided in ``server_spans``: a request not sampled gets a bare non-recording span
        # instead of a trip through the SDK. ``None``: another sampler was configured, and the
        # SDK decides every request.
        self.root_bound: int | None = None

    def use(self, tracer: Tracer | None, *, root_ratio: float | None = None) -> None:
        """The tracer in effect; ``root_ratio``: the share of new traces to sample (decided here)."""
        self.tracer = tracer
        self.root_bound = None if root_ratio is None else round(min(1.0, max(0.0, root_ratio)) * (TRACE_ID_LIMIT + 1))

    def recording_tracer(self) -> Tracer | None:
        """The tracer, when the span in effect is being recorded; ``None`` when tracing is off or
        the request was not sampled (its children skip their spans)."""
        tracer = self.tracer
        if tracer is None or not trace.get_current_span().is_recording():
            return None
        return tracer

    def record_exception(self, exc: BaseException) -> None:
        """On the span in effect (the request's), when tracing is on."""
        if self.tracer is not None:
            trace.get_current_span().record_exception(exc)


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the span in effect, as 32 and 16 hex digits; ``None`` without one
    (always, while tracing is off: no span is ever made current)."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def _root_ratio(env: Mapping[str, str]) -> float | None:
    """The ratio of the default sampler (parent-based, trace-id ratio), or ``None`` for another."""
    if env.get("OTEL_TRACES_SAMPLER", "parentbased_traceidratio") != "parentbased_traceidratio":
        return None  # the SDK reads OTEL_TRACES_SAMPLER and its argument itself
    try:
        ratio = float(env.get("OTEL_TRACES_SAMPLER_ARG") or 1.0)
    except ValueError:
        ratio = 1.0
    return min(1.0, max(0.0, ratio))


def _otlp_exporter(env: Mapping[str, str]) -> SpanExporter:
    if otlp_protocol(env, "traces") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter()  # reads the endpoint variables and adds /v1/traces


def setup_tracing(
    tracing: Tracing, env: Mapping[str, str], *, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Start ``tracing`` in this process; ``None`` (and tracing off) without anywhere to send spans.

    A test hands in ``exporter`` (an in-memory one): spans then go to it synchronously.
    """
    if tracing_disabled(env) or (exporter is None and otlp_endpoint(env, "traces") is None):
        tracing.use(None)
        return None
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

    ratio = _root_ratio(env)
    # With the default sampler the ratio is applied to new traces in ``start_server_span``; what
    # reaches the SDK is either sampled already or has a caller's context to follow.
    sampler = ParentBased(ALWAYS_ON) if ratio is not None else None
    provider = TracerProvider(resource=resource(env), sampler=sampler)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(env)))
    tracing.use(provider.get_tracer("todostack", __version__), root_ratio=ratio)
    return provider
