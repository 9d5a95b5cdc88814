"""The composition root: the one place that picks adapters and wires them to the use cases."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from litestar import Litestar

from todostack.adapters.clock import new_id, utc_now
from todostack.adapters.memory import InMemoryDatabase
from todostack.adapters.migrations import Migration, MigrationError
from todostack.adapters.passwords import Argon2Hasher, Argon2Params
from todostack.adapters.postgres import (
    PostgresDatabase,
    migrate_postgres,
    pending_postgres_migrations,
)
from todostack.adapters.sqlite import SqliteDatabase, migrate_sqlite
from todostack.adapters.tokens import HmacTokenCodec
from todostack.delivery.http import HttpConfig, Services, create_http_app
from todostack.delivery.http.lifecycle import Lifecycle, ShutdownPolicy
from todostack.delivery.http.scope import Budgets
from todostack.observability.alerts import Alert, AlertQueue
from todostack.observability.metrics import Metrics
from todostack.runtime import Settings, Sizing, size_service
from todostack.runtime.memory import GuardStep, MemoryGuard
from todostack.usecases import AuthService, ListService, TodoBackendService, TodoService
from todostack.usecases.ports import Clock, IdGenerator, UnitOfWorkFactory

__all__ = ["Storage", "app_from_env", "create_app", "migrate", "open_services", "open_storage", "pending_migrations"]


@dataclass(frozen=True, slots=True)
class Storage:
    uow: UnitOfWorkFactory
    ping: Callable[[], Awaitable[None]]
    close: Callable[[], Awaitable[None]]
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


async def open_storage(settings: Settings, pool_size: int | None = None) -> Storage:
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
        return Storage(pg, pg.ping, pg.close, pg.sleep)
    if db.dialect == "sqlite":
        lite = await SqliteDatabase.connect(
            db.url, size=min(db.pool_size, 8), acquire_timeout=rq.db_acquire_timeout_seconds
        )
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
        yield Services(
            auth=AuthService(store.uow, hasher, tokens, clock, ids, timedelta(seconds=sec.token_ttl_seconds)),
            lists=ListService(store.uow, clock, ids),
            todos=todos,
            todobackend=TodoBackendService(store.uow, todos, clock, settings.todobackend_capacity),
            check_ready=store.ping,
            db_sleep=store.sleep,
        )
    finally:
        if storage is None:
            await store.close()


@asynccontextmanager
async def worker_runtime(settings: Settings, alerts: AlertQueue, lifecycle: Lifecycle) -> AsyncIterator[Sizing]:
    """Inside one worker: size its thread pool and database pool, and guard its memory."""
    sizing = size_service(settings)
    loop = asyncio.get_running_loop()
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
            on_step=lambda step: alerts.publish(_guard_alert(step, sizing.soft_limit_bytes_per_worker)),
        )
        guard_task = asyncio.create_task(guard.run(), name="todostack-memory-guard")
    try:
        yield sizing
    finally:
        if guard_task is not None:
            guard_task.cancel()


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


def create_app(settings: Settings, *, storage: Storage | None = None, handle_signals: bool = False) -> Litestar:
    rq = settings.requests
    config = HttpConfig(
        todobackend_enabled=settings.todobackend,
        max_body_bytes=settings.max_body_bytes,
        test_endpoints=settings.test_endpoints,
        budgets=Budgets(read_seconds=rq.read_timeout_seconds, write_seconds=rq.write_timeout_seconds),
        max_inflight=rq.max_inflight,
        shutdown=ShutdownPolicy(rq.shutdown_delay_seconds, rq.shutdown_grace_seconds),
        handle_signals=handle_signals,
    )
    alerts = AlertQueue(rq.alert_webhook_url)
    lifecycle = Lifecycle(max_inflight=config.max_inflight, policy=config.shutdown)

    @asynccontextmanager
    async def worker_services() -> AsyncIterator[Services]:
        async with worker_runtime(settings, alerts, lifecycle) as sizing:
            store = storage if storage is not None else await open_storage(settings, sizing.db_pool_size)
            try:
                async with open_services(settings, storage=store) as services:
                    yield services
            finally:
                if storage is None:
                    await store.close()

    return create_http_app(config, worker_services, metrics=Metrics(), alerts=alerts, lifecycle=lifecycle)


def app_from_env() -> Litestar:
    """Factory for the ASGI server's worker processes: settings come through the environment."""
    return create_app(Settings.from_env(os.environ), handle_signals=True)


__all__ += ["MigrationError"]
