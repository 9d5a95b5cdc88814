"""The outermost ASGI layer: every HTTP request runs inside its own ``RequestContext``.

It runs before routing, so every answer (404s included) carries the request id. For each
request it

* takes ``X-Request-ID`` when valid (else makes one) and echoes it;
* sets the deadline: the route's budget (reads and writes differ, ``budgets``), shortened, never
  lengthened, by a ``Request-Timeout: <seconds>`` header;
* refuses at once with 503 + ``Retry-After`` when the worker already has its limit of requests
  in flight (cause ``overloaded``), instead of queueing without bound;
* cancels the handler when the deadline passes (504), the client disconnects, or shutdown's
  grace period ends (503), and records the cause;
* answers ``HEAD`` on every ``GET`` route: the app serves a GET, the exchange sends its headers
  without the body (RFC 9110 §9.3.2);
* reports each finished request to ``on_done`` (access log and metrics).
"""

from __future__ import annotations

import asyncio
import math
import random
import re
from collections.abc import Callable
from typing import NamedTuple

from todostack import context
from todostack.context import Cause, RequestContext
from todostack.delivery.http.asgi.answers import Compression, accepts_gzip
from todostack.delivery.http.asgi.budgets import SAFE_METHODS, Budgets, parse_request_timeout
from todostack.delivery.http.asgi.disconnect import DisconnectWatch
from todostack.delivery.http.asgi.exchange import CAUSE_DETAIL, Exchange, Timer
from todostack.delivery.http.asgi.lifecycle import Lifecycle
from todostack.delivery.http.asgi.problem import CAUSE_STATUS
from todostack.delivery.http.asgi.types import ASGIApp, HeaderDecorator, RawHeaders, Receive, Scope, Send
from todostack.ebpf import probes
from todostack.observability.server_spans import start_server_span
from todostack.observability.tracing import Tracing

__all__ = ["UNTIMED_PATHS", "Finished", "HeaderDecorator", "RawHeaders", "RequestScopeMiddleware"]

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# Probes and scrapes: never shed, never counted as in flight (a drain must not hide them).
UNTIMED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# A deadline that fires this long after it passed found the worker not running (the process
# stalled: starved of CPU, or waiting on the kernel's memory reclaim). A body still awaited then
# may well be in the socket already: the time went on our side, and the answer is a 504, not a 408.
_STALLED_SECONDS = 0.5


class Finished(NamedTuple):
    """What ``on_done`` learns about each request (a tuple: built once per request, and a frozen
    dataclass pays a ``setattr`` per field)."""

    method: str
    path: str
    route: str | None
    status: int
    duration_seconds: float
    request_id: str
    cause: Cause | None
    trace_id: str | None = None
    span_id: str | None = None
    client: str | None = None  # the client's address, a trusted proxy's X-Forwarded-For applied (asgi.proxies)


class RequestScopeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        budgets: Budgets,
        lifecycle: Lifecycle,
        on_done: Callable[[Finished], None] | None = None,
        decorate: HeaderDecorator | None = None,
        compression: Compression | None = None,
        stream_paths: frozenset[str] = frozenset(),
        tracing: Tracing | None = None,
    ) -> None:
        self.app = app
        # A holder with no tracer when none is given: tracing off.
        self.tracing = tracing if tracing is not None else Tracing()
        # Long-lived streams: no deadline, not in flight, a limit of their own (``Lifecycle``).
        self.stream_paths = stream_paths
        self.budgets = budgets
        self.lifecycle = lifecycle
        self._is_draining = lifecycle.is_draining  # bound once, not per request
        self.on_done = on_done
        self.decorate = decorate
        self.compression = compression

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        method: str = scope["method"]
        request_id = timeout_header = None
        gzip = False
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"request-timeout":
                timeout_header = value.decode("latin-1")
            elif name == b"accept-encoding":
                gzip = gzip or accepts_gzip(value)
        if request_id is None or not _REQUEST_ID.fullmatch(request_id):
            # Unique, not secret: a syscall per request (secrets, os.urandom) buys nothing here.
            request_id = f"{random.getrandbits(64):016x}"
        probes.request_start(method, scope["path"], request_id)
        stream = scope["path"] in self.stream_paths
        ctx = RequestContext(request_id, None if stream else started + self.budgets.for_request(method, scope["path"]))
        head = method == "HEAD"
        if head:
            scope["method"] = "GET"  # routed, authorized and answered as the GET it mirrors
        exchange = Exchange(
            send,
            request_id,
            scope["path"],
            self.decorate,
            https=scope.get("scheme") == "https",
            head=head,
            gzip=gzip,
            compression=self.compression,
            draining=self._is_draining,
        )
        span = None
        # Tracing off: one comparison. Probes and scrapes are not traced.
        if self.tracing.tracer is not None and scope["path"] not in UNTIMED_PATHS:
            span = start_server_span(
                self.tracing, method, scope["path"], scope["headers"], scope.get("scheme", "http"), scope.get("server")
            )
        try:
            if stream:
                await self._stream(scope, receive, ctx, exchange)
            else:
                await self._serve(scope, receive, ctx, exchange, timeout_header)
        finally:
            ctx.finish()
            route = scope.get("path_template")
            route = route if isinstance(route, str) else None
            ids: tuple[str | None, str | None] = (None, None)
            if span is not None:
                ids = span.ids
                span.finish(method, route, exchange.status, ctx.cause.value if ctx.cause is not None else None)
            if self.on_done is not None:
                peer = scope.get("client")
                self.on_done(
                    Finished(
                        method,
                        scope["path"],
                        route,
                        exchange.status,
                        loop.time() - started,
                        request_id,
                        ctx.cause,
                        *ids,
                        peer[0] if peer else None,
                    )
                )

    async def _stream(self, scope: Scope, receive: Receive, ctx: RequestContext, exchange: Exchange) -> None:
        """A stream: refused while draining or at its own limit; otherwise runs until it ends,
        the client goes, or shutdown cancels it (no deadline, no in-flight count)."""
        lifecycle = self.lifecycle
        if lifecycle.draining or lifecycle.streams_full():
            ctx.record(Cause.OVERLOADED if not lifecycle.draining else Cause.SHUTDOWN)
            detail = (
                "this worker is shutting down; reconnect shortly"
                if lifecycle.draining
                else f"this worker already holds {lifecycle.max_streams} streams; retry shortly"
            )
            await exchange.problem(scope, 503, detail, cause=ctx.cause, retry_after=2)
            return
        task = asyncio.current_task()
        assert task is not None
        ctx.bind(task)
        token = context.use(ctx)
        lifecycle.streams.add(ctx)
        try:
            await self.app(scope, receive, exchange.send)
        except asyncio.CancelledError:
            if ctx.cause is None:
                raise
            task.uncancel()
            if not exchange.started:
                await exchange.problem(scope, CAUSE_STATUS[ctx.cause], CAUSE_DETAIL[ctx.cause], cause=ctx.cause)
        finally:
            lifecycle.streams.discard(ctx)
            context.reset(token)

    async def _serve(
        self, scope: Scope, receive: Receive, ctx: RequestContext, exchange: Exchange, timeout_header: str | None
    ) -> None:
        if timeout_header is not None:
            try:
                requested = parse_request_timeout(timeout_header)
            except ValueError as exc:
                await exchange.problem(scope, 400, str(exc))
                return
            ctx.deadline = min(ctx.deadline or math.inf, asyncio.get_running_loop().time() + requested)
        untimed = scope["path"] in UNTIMED_PATHS
        lifecycle = self.lifecycle
        if not untimed and lifecycle.full():
            ctx.record(Cause.OVERLOADED)
            await exchange.problem(
                scope,
                503,
                f"this worker already serves {lifecycle.max_inflight} requests; retry shortly",
                cause=Cause.OVERLOADED,
                retry_after=1,
            )
            return
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        ctx.bind(task)
        token = context.use(ctx)
        watch = DisconnectWatch(receive, ctx)
        timer = Timer(loop, ctx, watch, loop.time() + self.budgets.watch_disconnect_after_seconds)
        if not untimed:
            lifecycle.enter(ctx)
        try:
            await self.app(scope, watch.receive, exchange.send)
        except asyncio.CancelledError:
            cause = ctx.cause
            if cause is None:
                raise  # not ours: the server is cancelling this task
            task.uncancel()
            if (
                not exchange.started
                and cause is Cause.DEADLINE_EXCEEDED
                and watch.awaiting_body
                and loop.time() - (ctx.deadline or 0.0) < _STALLED_SECONDS
            ):
                # The time went waiting for the client's body: its slowness, not ours.
                await exchange.problem(scope, 408, "the request body did not arrive within the time budget")
            elif not exchange.started and cause is not Cause.CLIENT_DISCONNECTED:
                status = CAUSE_STATUS[cause]
                await exchange.problem(
                    scope,
                    status,
                    CAUSE_DETAIL[cause],
                    cause=cause,
                    retry_after=1 if status == 503 else None,
                    # Cut off mid-way, a write may or may not have been committed.
                    outcome="unknown" if scope["method"] not in SAFE_METHODS else None,
                )
            elif cause is Cause.CLIENT_DISCONNECTED:
                exchange.status = 499  # nginx's "client closed request", for the log and metrics
        finally:
            timer.cancel()
            watch.stop()
            lifecycle.leave(ctx)
            context.reset(token)
