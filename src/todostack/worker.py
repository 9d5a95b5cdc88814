"""One worker's lifetime: what starts in its event loop after the fork, and stops in reverse.

``run`` is one ``AsyncExitStack`` of small context managers, so the order things stop in *is* the
order they started in, reversed: the services go first, telemetry last. ``bootstrap`` builds every
object; this module only starts and stops them.
"""

from __future__ import annotations

import asyncio
import gc
import os
import platform
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Any

from todostack.adapters.storage import Storage
from todostack.changefeed import feed_running
from todostack.delivery.http import Services
from todostack.delivery.http.asgi.lifecycle import Lifecycle
from todostack.ebpf import probes
from todostack.observability.alerts import Alert, AlertQueue
from todostack.observability.logs import LogSink
from todostack.observability.metrics import Metrics
from todostack.observability.process import GcWatch, ProcessSampler
from todostack.observability.scrape import serve_metrics
from todostack.observability.tracing import Tracing, setup_tracing
from todostack.profiling.autoprof import Autoprof
from todostack.runtime import Settings
from todostack.runtime.memory import GuardStep, MemoryGuard, scavenge_forever
from todostack.runtime.parent import watch_server
from todostack.runtime.plan import WorkerPlan
from todostack.runtime.readings import read_runtime

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter  # the SDK loads only when tracing is on

__all__ = ["Worker", "guard_alert", "worker_storage"]


@dataclass(frozen=True, slots=True)
class Worker:
    """Everything one worker starts, built by ``bootstrap`` before the event loop runs."""

    settings: Settings
    plan: WorkerPlan
    metrics: Metrics
    alerts: AlertQueue
    lifecycle: Lifecycle
    autoprof: Autoprof
    logs: LogSink  # flushed every 0.2 s and when the worker stops
    # Opens the storage (sized for this worker) and closes it when the worker stops.
    storage: Callable[[], AbstractAsyncContextManager[Storage]]
    services: Callable[[Storage], AbstractAsyncContextManager[Services]]
    span_exporter: SpanExporter | None = None  # tests: tracing on, spans going there
    # This worker's tracer, set up when it starts; the app, storage and services were handed it.
    tracing: Tracing = field(default_factory=Tracing)

    @asynccontextmanager
    async def run(self) -> AsyncIterator[Services]:
        """In the worker's event loop (the app's lifespan): start, yield the services, stop."""
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(_tracing(self.tracing, self.span_exporter))
            await stack.enter_async_context(_otel_metrics(self.metrics))
            gc_watch = stack.enter_context(_gc_watch(self.metrics))
            self._tune_process()
            if (guard := self._memory_guard()) is not None:
                stack.enter_context(_task(guard.run(), "todostack-memory-guard"))
            if self.settings.runtime.malloc_trim_seconds > 0:
                trim = scavenge_forever(self.settings.runtime.malloc_trim_seconds)
                stack.enter_context(_task(trim, "todostack-heap-scavenger"))
            if (watch := self._server_watch()) is not None:
                stack.enter_context(_task(watch, "todostack-server-watch"))
            stack.enter_context(_autoprof(self.autoprof))
            store = await stack.enter_async_context(self.storage())
            sampler = ProcessSampler(
                self.metrics,
                pool=store.pool_state,
                inflight=lambda: self.lifecycle.inflight,
                runtime=read_runtime,
                gc_watch=gc_watch,
            )
            stack.enter_context(_task(sampler.run(), "todostack-process-sampler"))
            stack.enter_context(_log_flusher(self.logs))
            if self.settings.limits.metrics_port:  # /metrics on a port of its own (SO_REUSEPORT)
                await stack.enter_async_context(
                    serve_metrics(self.metrics, self.settings.server.host, self.settings.limits.metrics_port)
                )
            services = await stack.enter_async_context(self.services(store))
            await stack.enter_async_context(feed_running(self.settings, services.feed, store))
            yield services

    def _tune_process(self) -> None:
        """The build-info gauge, the default executor sized from effective CPUs, GC thresholds, probes."""
        loop = asyncio.get_running_loop()
        # "uvloop" or "asyncio": what the server really started, whatever was asked for.
        event_loop = type(loop).__module__.partition(".")[0]
        self.metrics.build_info.labels(package_version("todostack"), platform.python_version(), event_loop).set(1)
        threads = self.plan.sizing.threads
        loop.set_default_executor(ThreadPoolExecutor(max_workers=threads, thread_name_prefix="todostack"))
        if self.settings.runtime.gc_threshold is not None:
            gc.set_threshold(self.settings.runtime.gc_threshold)
        # A no-op in a worker forked from ``todostack serve`` (loaded there); other servers load here.
        probes.load(self.settings.runtime.probes, self.settings.runtime.probes_library)

    def _memory_guard(self) -> MemoryGuard | None:
        share = self.plan.sizing.soft_limit_bytes_per_worker
        if share is None:
            return None
        metrics, alerts = self.metrics, self.alerts

        def on_step(step: GuardStep) -> None:
            metrics.guard_steps.labels("recycled" if step.still_over else "collected").inc()
            if not alerts.publish(guard_alert(step, share)):
                metrics.alerts_dropped.inc()

        return MemoryGuard(
            share,
            self.settings.runtime.memory_check_seconds,
            # A graceful drain, but without the wait for load balancers: the memory will not wait.
            # The server starts a fresh worker when this one exits.
            recycle=lambda: self.lifecycle.begin_drain("memory guard", pre_stop_seconds=0),
            on_step=on_step,
        )

    def _server_watch(self) -> Coroutine[Any, Any, None] | None:
        server = self.plan.server_pid
        if server is None or server == os.getpid():  # one uvicorn process is its own server
            return None
        # Orphaned (the server's main process was killed outright): drain as the memory guard
        # does, and exit once a graceful stop has had its time.
        return watch_server(
            server,
            drain=lambda: self.lifecycle.begin_drain("server process gone", pre_stop_seconds=0),
            exit_after=self.settings.requests.stop_seconds_after_close(),
            hard_exit=lambda code: _exit_now(self.logs, code),
        )


def guard_alert(step: GuardStep, share: int | None) -> Alert:
    """Each step of the memory guard, as an operational alert."""
    action = "draining this worker for a fresh one" if step.still_over else "collected; back under its share"
    return Alert(
        "memory_guard",
        f"worker memory over its share: {action}",
        {
            "before_mib": str(step.before >> 20),
            "after_mib": str(step.after >> 20),
            "share_mib": str((share or 0) >> 20),
        },
    )


@asynccontextmanager
async def worker_storage(
    given: Storage | None, open_storage: Callable[[], Awaitable[Storage]]
) -> AsyncIterator[Storage]:
    """The caller's storage (the caller closes it), else one opened for this worker and closed when it stops."""
    if given is not None:
        yield given
        return
    store = await open_storage()
    try:
        yield store
    finally:
        await store.close()


def _exit_now(logs: LogSink, code: int) -> None:
    logs.flush()
    os._exit(code)


@asynccontextmanager
async def _tracing(tracing: Tracing, exporter: SpanExporter | None) -> AsyncIterator[None]:
    # After the fork, in the worker: exporters started before a fork do not survive it.
    # Off the event loop: the SDK reads entry points and resource detectors (~0.1 s).
    provider = await asyncio.to_thread(setup_tracing, tracing, os.environ, exporter=exporter)
    try:
        yield
    finally:
        if provider is not None:
            provider.shutdown()  # sends what is still batched
            tracing.use(None)


@asynccontextmanager
async def _otel_metrics(metrics: Metrics) -> AsyncIterator[None]:
    otel = metrics.otel
    if otel is None:
        yield
        return
    otel.start()
    try:
        yield
    finally:
        await asyncio.to_thread(otel.shutdown)


@contextmanager
def _gc_watch(metrics: Metrics) -> Iterator[GcWatch]:
    watch = GcWatch(metrics)
    watch.start()
    try:
        yield watch
    finally:
        watch.stop()


@contextmanager
def _task(coroutine: Coroutine[Any, Any, None], name: str) -> Iterator[None]:
    task = asyncio.create_task(coroutine, name=name)
    try:
        yield
    finally:
        task.cancel()


@contextmanager
def _autoprof(autoprof: Autoprof) -> Iterator[None]:
    autoprof.start(asyncio.get_running_loop())
    try:
        yield
    finally:
        autoprof.stop()  # wakes its threads at once; a capture in progress ends within a tick


@contextmanager
def _log_flusher(logs: LogSink) -> Iterator[None]:
    with _task(logs.flush_forever(), "todostack-log-flusher"):
        try:
            yield
        finally:
            logs.flush()
