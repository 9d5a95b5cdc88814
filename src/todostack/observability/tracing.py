"""OpenTelemetry traces, configured only through the standard ``OTEL_*`` variables.

Set up inside each worker, after the fork (exporters started before a fork break). With no
OTLP endpoint (and no exporter handed in by a test) nothing is set up: ``tracer()`` answers
``None`` and every instrumented place skips its span work with one comparison.

Variables read: ``OTEL_SDK_DISABLED``, ``OTEL_SERVICE_NAME`` (default ``todostack``),
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``…_TRACES_ENDPOINT``),
``OTEL_EXPORTER_OTLP_PROTOCOL`` (``http/protobuf``, the default, or ``grpc``),
``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` (default: parent-based, ratio 1.0), and the
SDK's own ``OTEL_BSP_*`` batching variables.
"""

from __future__ import annotations

import functools
import inspect
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags, Tracer

from todostack import __version__
from todostack.observability.labels import method_label

__all__ = [
    "Database",
    "ServerSpan",
    "current_ids",
    "db_span",
    "otlp_endpoint",
    "otlp_protocol",
    "record_exception",
    "recording",
    "resource",
    "set_tracer",
    "setup_tracing",
    "start_server_span",
    "traced",
    "tracer",
    "tracing_disabled",
]
T = TypeVar("T")

_tracer: Tracer | None = None
# With the default sampler (parent-based, ratio r), a request that starts a trace is decided here:
# a request not sampled gets a bare non-recording span (~1 µs) instead of a trip through the SDK
# (~7 µs). ``None``: another sampler was configured, and the SDK decides every request.
_root_bound: int | None = None
_TRACE_ID_LIMIT = (1 << 64) - 1


def tracer() -> Tracer | None:
    """The worker's tracer, or ``None`` when tracing is off."""
    return _tracer


def set_tracer(value: Tracer | None, *, root_ratio: float | None = None) -> None:
    """The tracer in effect; ``root_ratio``: the share of new traces to sample (decided here)."""
    global _tracer, _root_bound
    _tracer = value
    _root_bound = None if root_ratio is None else round(min(1.0, max(0.0, root_ratio)) * (_TRACE_ID_LIMIT + 1))


def tracing_disabled(env: Mapping[str, str]) -> bool:
    return env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def otlp_endpoint(env: Mapping[str, str], signal: str) -> str | None:
    return env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None


def resource(env: Mapping[str, str]) -> Resource:
    # Resource.create adds OTEL_RESOURCE_ATTRIBUTES, and OTEL_SERVICE_NAME wins over both.
    return Resource.create(
        {"service.name": env.get("OTEL_SERVICE_NAME") or "todostack", "service.version": __version__}
    )


def _root_ratio(env: Mapping[str, str]) -> float | None:
    """The ratio of the default sampler (parent-based, trace-id ratio), or ``None`` for another."""
    if env.get("OTEL_TRACES_SAMPLER", "parentbased_traceidratio") != "parentbased_traceidratio":
        return None  # the SDK reads OTEL_TRACES_SAMPLER and its argument itself
    try:
        ratio = float(env.get("OTEL_TRACES_SAMPLER_ARG") or 1.0)
    except ValueError:
        ratio = 1.0
    return min(1.0, max(0.0, ratio))


def otlp_protocol(env: Mapping[str, str], signal: str) -> str:
    """``grpc`` or ``http/protobuf`` (the default) for ``signal`` (traces, metrics)."""
    chosen = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    return (chosen or "http/protobuf").lower()


def _otlp_exporter(env: Mapping[str, str]) -> SpanExporter:
    if otlp_protocol(env, "traces") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter()  # reads the endpoint variables and adds /v1/traces


def setup_tracing(env: Mapping[str, str], *, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Start tracing in this process; ``None`` (and tracing off) without anywhere to send spans.

    A test hands in ``exporter`` (an in-memory one): spans then go to it synchronously.
    """
    if tracing_disabled(env) or (exporter is None and otlp_endpoint(env, "traces") is None):
        set_tracer(None)
        return None
    ratio = _root_ratio(env)
    # With the default sampler the ratio is applied to new traces in ``start_server_span``; what
    # reaches the SDK is either sampled already or has a caller's context to follow.
    sampler = ParentBased(ALWAYS_ON) if ratio is not None else None
    provider = TracerProvider(resource=resource(env), sampler=sampler)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(env)))
    set_tracer(provider.get_tracer("todostack", __version__), root_ratio=ratio)
    return provider


# -- spans of our own --------------------------------------------------------------------------------


class _Headers(Getter[Sequence[tuple[bytes, bytes]]]):
    """W3C traceparent/tracestate from raw ASGI headers."""

    def get(self, carrier: Sequence[tuple[bytes, bytes]], key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")
        found = [value.decode("latin-1") for header, value in carrier if header == name]
        return found or None

    def keys(self, carrier: Sequence[tuple[bytes, bytes]]) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier]


_HEADERS = _Headers()


def recording() -> bool:
    """Is the span in effect being recorded? Children of an unsampled request skip their spans."""
    return _tracer is not None and trace.get_current_span().is_recording()


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the span in effect, as 32 and 16 hex digits; ``None`` without one."""
    if _tracer is None:
        return None
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


class ServerSpan:
    """The HTTP server span of one request, current while the request runs."""

    __slots__ = ("_token", "span")

    def __init__(self, span: Span, token: object) -> None:
        self.span = span
        self._token = token

    @property
    def ids(self) -> tuple[str, str]:
        c = self.span.get_span_context()
        return format(c.trace_id, "032x"), format(c.span_id, "016x")

    def finish(self, method: str, route: str | None, status: int, cause: str | None) -> None:
        span = self.span
        if not span.is_recording():  # not sampled: nothing to describe (and nothing attached)
            return
        if route is not None:
            span.update_name(f"{_span_method(method)} {route}")
            span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if cause is not None:
            span.set_attribute("todostack.cancel.cause", cause)
            span.add_event("cancelled", {"todostack.cancel.cause": cause})
        if status >= 500:
            span.set_attribute("error.type", cause or str(status))
            span.set_status(Status(StatusCode.ERROR, cause))
        span.end()
        otel_context.detach(self._token)  # type: ignore[arg-type]


def _span_method(method: str) -> str:
    """A span's name starts with the method, or "HTTP" for one that is not known."""
    known = method_label(method)
    return "HTTP" if known == "_OTHER" else known


def start_server_span(
    method: str, path: str, headers: Sequence[tuple[bytes, bytes]], scheme: str, server: tuple[str, int] | None
) -> ServerSpan | None:
    """A server span for a request (a child of the caller's ``traceparent``), made current."""
    if _tracer is None:
        return None
    # Most requests carry no trace context: skip the propagators' machinery for them.
    parent = None
    if _has_trace_context(headers):
        parent = propagate.extract(headers, getter=_HEADERS)
    elif _root_bound is not None:
        trace_id = random.getrandbits(128)
        if trace_id & _TRACE_ID_LIMIT >= _root_bound:  # TraceIdRatioBased's own test
            # Not sampled: ids for the access log, and nothing attached (so children skip too).
            context = SpanContext(trace_id, random.getrandbits(64), is_remote=False, trace_flags=TraceFlags(0))
            return ServerSpan(NonRecordingSpan(context), None)
    known = method_label(method)
    attributes: dict[str, str | int] = {"http.request.method": known, "url.path": path, "url.scheme": scheme}
    if known != method:  # OpenTelemetry's rule: the made-up method only as an attribute
        attributes["http.request.method_original"] = method[:64]
    if server is not None:
        attributes["server.address"], attributes["server.port"] = server[0], server[1]
    span = _tracer.start_span(_span_method(method), context=parent, kind=SpanKind.SERVER, attributes=attributes)
    if not span.is_recording():  # a caller's unsampled trace: nothing of ours to record
        return ServerSpan(span, None)
    token = otel_context.attach(trace.set_span_in_context(span, parent))
    return ServerSpan(span, token)


def _has_trace_context(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    return any(name in _TRACE_HEADERS for name, _ in headers)


_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})


def record_exception(exc: BaseException) -> None:
    """On the span in effect (the request's), when tracing is on."""
    if _tracer is not None:
        trace.get_current_span().record_exception(exc)


_OPERATION = re.compile(r"\s*(\w+)")
_COLLECTION = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+(\w+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Database:
    """Where statements go, for their spans: ``db.*`` and ``server.*`` attributes."""

    system: str  # postgresql, sqlite
    namespace: str  # the database name (or file)
    address: str | None = None
    port: int | None = None


@functools.lru_cache(maxsize=512)
def operation_of(sql: str) -> str:
    match = _OPERATION.match(sql)
    return match.group(1).upper() if match else "UNKNOWN"


@contextmanager
def db_span(db: Database, sql: str) -> Iterator[None]:
    """A client span around one statement (its text has placeholders, never values)."""
    tracer_ = _tracer
    if tracer_ is None or not trace.get_current_span().is_recording():
        yield
        return
    operation = operation_of(sql)
    collection = _COLLECTION.search(sql)
    attributes: dict[str, str | int] = {
        "db.system.name": db.system,
        "db.namespace": db.namespace,
        "db.operation.name": operation,
        "db.query.text": sql,
    }
    if collection is not None:
        attributes["db.collection.name"] = collection.group(1)
    if db.address is not None:
        attributes["server.address"] = db.address
    if db.port is not None:
        attributes["server.port"] = db.port
    name = f"{operation} {collection.group(1)}" if collection is not None else operation
    with tracer_.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes) as span:
        try:
            yield
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__name__)
            raise


_ID_PARAMETERS = ("todo_id", "list_id", "todo_ids")


def traced(service: T, component: str) -> T:
    """``service`` with a span around each public coroutine method (ids as attributes, no text)."""
    if _tracer is None:
        return service
    return cast(T, _TracedService(service, component))


class _TracedService:
    def __init__(self, inner: object, component: str) -> None:
        self._inner = inner
        self._component = component

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith("_"):
            return attr
        if not inspect.iscoroutinefunction(attr) or name in getattr(self._inner, "untraced", ()):
            # Kept, like the wrappers below: a sync method (the token check, on every request)
            # would otherwise come back through here and inspect each time.
            setattr(self, name, attr)
            return attr
        signature = inspect.signature(attr)
        usecase = f"{self._component}.{name}"

        @functools.wraps(attr)
        async def call(*args: Any, **kwargs: Any) -> Any:
            tracer_ = _tracer
            if tracer_ is None or not trace.get_current_span().is_recording():
                return await attr(*args, **kwargs)
            attributes: dict[str, str] = {"todostack.usecase": usecase}
            bound = signature.bind_partial(*args, **kwargs).arguments
            for key in _ID_PARAMETERS:
                if isinstance(bound.get(key), str):
                    attributes[f"todostack.{key}"] = bound[key]
            principal = bound.get("principal")
            user_id = getattr(principal, "user_id", None)
            if isinstance(user_id, str):
                attributes["enduser.id"] = user_id
            with tracer_.start_as_current_span(usecase, attributes=attributes):
                return await attr(*args, **kwargs)

        setattr(self, name, call)  # wrap once
        return call
