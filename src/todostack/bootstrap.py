"""The composition root: the one place that picks adapters and wires them to the use cases."""

from __future__ import annotations

import asyncio
import gc
import os
import platform
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import version as package_version
from pathlib import Path

from litestar import Litestar
from opentelemetry.sdk.trace.export import SpanExporter

from todostack.adapters.clock import new_id, utc_now
from todostack.adapters.memory import InMemoryDatabase
from todostack.adapters.migrations import Migration, MigrationError
from todostack.adapters.passwords import Argon2Hasher, Argon2Params
from todostack.adapters.postgres import (
    PostgresDatabase,
    migrate_postgres,
    pending_postgres_migrations,
)
from todostack.adapters.postgres.deadlines import StatementObserver
from todostack.adapters.sqlite import SqliteDatabase, migrate_sqlite
from todostack.adapters.tokens import HmacTokenCodec
from todostack.delivery.http import HttpConfig, Services, create_http_app
from todostack.delivery.http.lifecycle import Lifecycle, ShutdownPolicy
from todostack.delivery.http.scope import Budgets
from todostack.observability.alerts import Alert, AlertQueue
from todostack.observability.logs import flush_logs, flush_logs_forever
from todostack.observability.metrics import Metrics
from todostack.observability.otel_metrics import setup_metrics
from todostack.observability.process import GcWatch, PoolState, ProcessSampler
from todostack.observability.tracing import set_tracer, setup_tracing, traced
from todostack.profiling.autoprof import Autoprof
from todostack.runtime import Settings, Sizing, size_service
from todostack.runtime.memory import GuardStep, MemoryGuard, scavenge_forever
from todostack.runtime.parent import watch_server
from todostack.runtime.plan import WorkerPlan
from todostack.runtime.readings import read_runtime
from todostack.usecases import AuthService, ListService, TodoBackendService, TodoService
from todostack.usecases.ports import Clock, IdGenerator, UnitOfWorkFactory

__all__ = ["MigrationError", "Storage", "create_app", "migrate", "open_services", "open_storage", "pending_migrations"]


@dataclass(frozen=True, slots=True)
class Storage:
    uow: UnitOfWorkFactory
    ping: Callable[[], Awaitable[None]]
    close: Callable[[], Awaitable[None]]
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    pool_state: Callable[[], PoolState] | None = None


async def open_storage(
    settings: Settings, pool_size: int | None = None, *, observe: StatementObserver | None = None
) -> Storage:
    db = settings.database
    rq = settings.requests
    if db.dialect == "postgresql":
        pg = await PostgresDatabase.connect(
            db.url,
            min_size=1,
            max_size=pool_size or db.pool_size,
            acquire_timeout=rq.db_acquire_timeout_seconds,
            # No statement outlives the longest request budget, deadline or not.
            statement_timeout=max(rq.read_timeout_seconds, rq.write_timeout_seconds),
        )
        pg.observe = observe
        return Storage(pg, pg.ping, pg.close, pg.sleep, pg.pool_state)
    if db.dialect == "sqlite":
        lite = await SqliteDatabase.connect(
            db.url, size=min(db.pool_size, 8), acquire_timeout=rq.db_acquire_timeout_seconds
        )
        lite.observe = observe
        return Storage(lite, lite.ping, lite.close, lite.sleep)
    mem = InMemoryDatabase()
    return Storage(mem, mem.ping, mem.close, asyncio.sleep)


async def migrate(settings: Settings) -> list[Migration]:
    """Apply pending migrations; returns what was applied."""
    if settings.database.dialect == "postgresql":
        return await migrate_postgres(settings.database.url)
    if settings.database.dialect == "sqlite":
        return await migrate_sqlite(settings.database.url)
    return []


async def pending_migrations(settings: Settings) -> list[Migration]:
    if settings.database.dialect == "postgresql":
        return await pending_postgres_migrations(settings.database.url)
    return []


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    storage: Storage | None = None,
    clock: Clock = utc_now,
    ids: IdGenerator = new_id,
) -> AsyncIterator[Services]:
    store = storage if storage is not None else await open_storage(settings)
    try:
        sec = settings.security
        hasher = Argon2Hasher(Argon2Params(time_cost=sec.argon2_time_cost, memory_kib=sec.argon2_memory_kib))
        tokens = HmacTokenCodec(sec.secret_key)
        todos = TodoService(store.uow, clock, ids)
        # With tracing on, each use case call is a span (a no-op wrapper otherwise).
        yield Services(
            auth=traced(
                AuthService(store.uow, hasher, tokens, clock, ids, timedelta(seconds=sec.token_ttl_seconds)), "auth"
            ),
            lists=traced(ListService(store.uow, clock, ids), "lists"),
            todos=traced(todos, "todos"),
            todobackend=traced(
                TodoBackendService(store.uow, todos, clock, settings.todobackend_capacity), "todobackend"
            ),
            check_ready=store.ping,
            db_sleep=store.sleep,
        )
    finally:
        if storage is None:
            await store.close()


@asynccontextmanager
async def worker_runtime(
    settings: Settings, plan: WorkerPlan, alerts: AlertQueue, lifecycle: Lifecycle, metrics: Metrics
) -> AsyncIterator[Sizing]:
    """Inside one worker: size its thread pool and database pool, and guard its memory.

    (Telemetry is started by ``worker_services``, also inside the worker: after the fork.)
    """
    sizing = plan.sizing
    loop = asyncio.get_running_loop()
    # "uvloop" or "asyncio": what the server really started, whatever was asked for.
    event_loop = type(loop).__module__.partition(".")[0]
    metrics.build_info.labels(package_version("todostack"), platform.python_version(), event_loop).set(1)
    loop.set_default_executor(ThreadPoolExecutor(max_workers=sizing.threads, thread_name_prefix="todostack"))
    if settings.runtime.gc_threshold is not None:
        gc.set_threshold(settings.runtime.gc_threshold)
    guard_task = None
    if sizing.soft_limit_bytes_per_worker is not None:
        # Act a little before the server's own replacement threshold (the full share).
        guard = MemoryGuard(
            sizing.soft_limit_bytes_per_worker,
            settings.runtime.memory_check_seconds,
            # A graceful drain, but without the wait for load balancers: the memory will not wait.
            # The server starts a fresh worker when this one exits.
            recycle=lambda: lifecycle.begin_drain("memory guard", pre_stop_seconds=0),
            on_step=lambda step: _guard_step(step, sizing.soft_limit_bytes_per_worker, alerts, metrics),
        )
        guard_task = asyncio.create_task(guard.run(), name="todostack-memory-guard")
    scavenger = None
    if settings.runtime.malloc_trim_seconds > 0:
        scavenger = asyncio.create_task(
            scavenge_forever(settings.runtime.malloc_trim_seconds), name="todostack-heap-scavenger"
        )
    watcher = None
    server = plan.server_pid
    if server is not None and server != os.getpid():  # one uvicorn process is its own server
        # Orphaned (the server's main process was killed outright): drain as the memory guard
        # does, and exit once a graceful stop has had its time.
        requests = settings.requests
        watcher = asyncio.create_task(
            watch_server(
                server,
                drain=lambda: lifecycle.begin_drain("server process gone", pre_stop_seconds=0),
                exit_after=requests.shutdown_grace_seconds + 5,
                hard_exit=_exit_now,
            ),
            name="todostack-server-watch",
        )
    try:
        yield sizing
    finally:
        for task in (guard_task, scavenger, watcher):
            if task is not None:
                task.cancel()


def _exit_now(code: int) -> None:
    flush_logs()
    os._exit(code)


def _guard_step(step: GuardStep, share: int | None, alerts: AlertQueue, metrics: Metrics) -> None:
    """Each step of the memory guard: logged by the guard, counted here, and sent as an alert."""
    metrics.guard_steps.labels("recycled" if step.still_over else "collected").inc()
    if not alerts.publish(_guard_alert(step, share)):
        metrics.alerts_dropped.inc()


def _guard_alert(step: GuardStep, share: int | None) -> Alert:
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


def create_app(
    settings: Settings,
    *,
    plan: WorkerPlan | None = None,
    storage: Storage | None = None,
    handle_signals: bool = False,
    span_exporter: SpanExporter | None = None,
) -> Litestar:
    """The ASGI app; ``span_exporter`` (tests) turns tracing on with spans going there.

    ``plan`` comes from ``todostack serve``; without one (tests, tools) the app sizes itself here."""
    if plan is None:
        plan = WorkerPlan(size_service(settings))
    rq = settings.requests
    config = HttpConfig(
        todobackend_enabled=settings.todobackend,
        max_body_bytes=settings.max_body_bytes,
        test_endpoints=settings.test_endpoints,
        budgets=Budgets(read_seconds=rq.read_timeout_seconds, write_seconds=rq.write_timeout_seconds),
        max_inflight=rq.max_inflight,
        shutdown=ShutdownPolicy(rq.shutdown_delay_seconds, rq.shutdown_grace_seconds),
        handle_signals=handle_signals,
        admin_token=settings.profiling.admin_token,
    )
    alerts = AlertQueue(rq.alert_webhook_url)
    lifecycle = Lifecycle(max_inflight=config.max_inflight, policy=config.shutdown)

    metrics = Metrics()
    autoprof = Autoprof(
        settings.profiling,
        metrics=metrics,
        publish_alert=alerts.publish,
        workers=plan.sizing.workers,
        peers_dir=Path(plan.peer_dir) if plan.peer_dir else None,
    )

    @asynccontextmanager
    async def worker_services() -> AsyncIterator[Services]:
        # After the fork, in the worker: exporters started before a fork do not survive it.
        # Off the event loop: the SDK reads entry points and resource detectors (~0.1 s).
        tracer_provider = await asyncio.to_thread(setup_tracing, os.environ, exporter=span_exporter)
        metrics.otel = await asyncio.to_thread(setup_metrics, os.environ)
        if metrics.otel is not None:
            metrics.otel.active_requests.observe = lambda: lifecycle.inflight
        gc_watch = GcWatch(metrics)
        gc_watch.start()
        async with worker_runtime(settings, plan, alerts, lifecycle, metrics) as sizing:
            autoprof.start(asyncio.get_running_loop())
            store = (
                storage
                if storage is not None
                else await open_storage(settings, sizing.db_pool_size, observe=metrics.observe_statement)
            )
            sampler = asyncio.create_task(
                ProcessSampler(
                    metrics,
                    pool=store.pool_state,
                    inflight=lambda: lifecycle.inflight,
                    runtime=read_runtime,
                    gc_watch=gc_watch,
                ).run(),
                name="todostack-process-sampler",
            )
            flusher = asyncio.create_task(flush_logs_forever(), name="todostack-log-flusher")
            try:
                async with open_services(settings, storage=store) as services:
                    yield services
            finally:
                flusher.cancel()
                flush_logs()
                autoprof.stop()  # wakes its threads at once; a capture in progress ends within a tick
                sampler.cancel()
                if storage is None:
                    await store.close()
                gc_watch.stop()
                if tracer_provider is not None:
                    tracer_provider.shutdown()  # sends what is still batched
                    set_tracer(None)
                if metrics.otel is not None:
                    await asyncio.to_thread(metrics.otel.shutdown)

    return create_http_app(
        config, worker_services, metrics=metrics, alerts=alerts, lifecycle=lifecycle, profiles=autoprof.on_demand
    )
