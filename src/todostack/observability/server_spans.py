"""The HTTP server span of each request: a child of the caller's ``traceparent`` when there is
one, else a new trace, sampled here by the default sampler's own rule."""

from __future__ import annotations

import random
from collections.abc import Sequence

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from todostack.observability.labels import method_label
from todostack.observability.tracing import TRACE_ID_LIMIT, Tracing

__all__ = ["ServerSpan", "start_server_span"]


class _Headers(Getter[Sequence[tuple[bytes, bytes]]]):
    """W3C traceparent/tracestate from raw ASGI headers."""

    def get(self, carrier: Sequence[tuple[bytes, bytes]], key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")
        found = [value.decode("latin-1") for header, value in carrier if header == name]
        return found or None

    def keys(self, carrier: Sequence[tuple[bytes, bytes]]) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier]


_HEADERS = _Headers()


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
    tracing: Tracing,
    method: str,
    path: str,
    headers: Sequence[tuple[bytes, bytes]],
    scheme: str,
    server: tuple[str, int] | None,
) -> ServerSpan | None:
    """A server span for a request (a child of the caller's ``traceparent``), made current."""
    tracer = tracing.tracer
    if tracer is None:
        return None
    # Most requests carry no trace context: skip the propagators' machinery for them.
    parent = None
    if _has_trace_context(headers):
        parent = propagate.extract(headers, getter=_HEADERS)
    elif (root_bound := tracing.root_bound) is not None:
        trace_id = random.getrandbits(128)
        if trace_id & TRACE_ID_LIMIT >= root_bound:  # TraceIdRatioBased's own test
            # Not sampled: ids for the access log, and nothing attached (so children skip too).
            context = SpanContext(trace_id, random.getrandbits(64), is_remote=False, trace_flags=TraceFlags(0))
            return ServerSpan(NonRecordingSpan(context), None)
    known = method_label(method)
    attributes: dict[str, str | int] = {"http.request.method": known, "url.path": path, "url.scheme": scheme}
    if known != method:  # OpenTelemetry's rule: the made-up method only as an attribute
        attributes["http.request.method_original"] = method[:64]
    if server is not None:
        attributes["server.address"], attributes["server.port"] = server[0], server[1]
    span = tracer.start_span(_span_method(method), context=parent, kind=SpanKind.SERVER, attributes=attributes)
    if not span.is_recording():  # a caller's unsampled trace: nothing of ours to record
        return ServerSpan(span, None)
    token = otel_context.attach(trace.set_span_in_context(span, parent))
    return ServerSpan(span, token)


def _has_trace_context(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    return any(name in _TRACE_HEADERS for name, _ in headers)


_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})
