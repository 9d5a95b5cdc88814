"""The use cases, the worker and the app, wired to the storage ``bootstrap.storage`` opens."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from litestar import Litestar

from todostack.adapters.attempts import DatabaseAttempts
from todostack.adapters.clock import new_id, utc_now
from todostack.adapters.common_passwords import common_passwords
from todostack.adapters.passwords import Argon2Hasher, Argon2Params
from todostack.adapters.storage import Storage
from todostack.adapters.tokens import HmacTokenCodec
from todostack.bootstrap.storage import open_storage, with_secret_key
from todostack.delivery.http import HttpConfig, Services, create_http_app
from todostack.delivery.http.api.services import FeedOptions
from todostack.delivery.http.asgi.answers import Compression
from todostack.delivery.http.asgi.budgets import Budgets
from todostack.delivery.http.asgi.lifecycle import Lifecycle, ShutdownPolicy
from todostack.observability.alerts import AlertQueue
from todostack.observability.logs import LogSink
from todostack.observability.metrics import Metrics
from todostack.observability.otel_metrics import build_metrics
from todostack.observability.tracing import Tracing
from todostack.observability.usecase_spans import traced
from todostack.profiling.autoprof import Autoprof
from todostack.runtime import Settings, size_service
from todostack.runtime.plan import WorkerPlan
from todostack.usecases import AuthService, ChangeHub, ChangeService, ListService, TodoBackendService, TodoService
from todostack.usecases.ports import AttemptStore, Clock, IdGenerator
from todostack.usecases.queries import CursorCodec
from todostack.usecases.quotas import Quotas
from todostack.usecases.signin_throttle import SignInThrottle, ThrottlePolicy
from todostack.worker import Worker, worker_storage

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from todostack.adapters.redis_attempts import RedisAttempts

__all__ = ["create_app", "open_services"]


def _redis_attempts(url: str) -> RedisAttempts:
    # Imported here, where it is used: the redis client is a third of the app's imports (0.6 of
    # 2.3 s on a 2-core machine here) and megabytes of every worker, and most deployments have none.
    from todostack.adapters.redis_attempts import RedisAttempts

    return RedisAttempts.from_url(url)


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    storage: Storage | None = None,
    clock: Clock = utc_now,
    ids: IdGenerator = new_id,
    tracing: Tracing | None = None,
) -> AsyncIterator[Services]:
    settings = with_secret_key(settings)
    tracing = tracing if tracing is not None else Tracing()
    store = storage if storage is not None else await open_storage(settings)
    redis = _redis_attempts(settings.auth.redis_url) if settings.auth.redis_url else None
    try:
        sec = settings.security
        hasher = Argon2Hasher(Argon2Params(time_cost=sec.argon2_time_cost, memory_kib=sec.argon2_memory_kib))
        ttl = timedelta(seconds=sec.token_ttl_seconds)
        tokens = HmacTokenCodec(sec.secret_key, ttl)
        attempts: AttemptStore = redis if redis is not None else DatabaseAttempts(store.uow)
        au = settings.auth
        throttle = SignInThrottle(
            attempts,
            clock,
            ThrottlePolicy(au.signin_ip_limit, au.signin_account_free_failures, au.signin_account_max_lock_seconds),
        )
        auth = AuthService(
            store.uow,
            hasher,
            tokens,
            clock,
            ids,
            ttl,
            throttle=throttle,
            common_passwords=await asyncio.to_thread(common_passwords),  # 30 ms of parsing: off the loop
            session_check_seconds=au.session_check_seconds,
        )
        quotas = Quotas(lists=settings.limits.quota_lists, todos=settings.limits.quota_todos)
        cursors = CursorCodec.from_secret(sec.secret_key)
        todos = TodoService(store.uow, clock, ids, quotas, cursors=cursors)
        changes = ChangeService(store.uow, clock)
        feed = ChangeHub(
            changes,
            poll_seconds=settings.feed.poll_seconds * (50 if settings.database.dialect == "postgresql" else 1),
            retention=timedelta(seconds=settings.feed.retention_seconds),
            prune_every=min(60.0, max(0.5, settings.feed.retention_seconds / 4)),
            read_slots=max(1, min(settings.database.pool_size, 8) // 2),
        )
        # With tracing on, each use case call is a span (a no-op wrapper otherwise).
        yield Services(
            auth=traced(tracing, auth, "auth"),
            lists=traced(tracing, ListService(store.uow, clock, ids, quotas, cursors=cursors), "lists"),
            todos=traced(tracing, todos, "todos"),
            todobackend=traced(
                tracing, TodoBackendService(store.uow, todos, clock, settings.todobackend_capacity), "todobackend"
            ),
            changes=traced(tracing, changes, "changes"),
            feed=feed,
            check_ready=store.ping,
            db_sleep=store.sleep,
        )
    finally:
        if redis is not None:
            await redis.close()
        if storage is None:
            await store.close()


def create_app(
    settings: Settings,
    *,
    plan: WorkerPlan | None = None,
    storage: Storage | None = None,
    handle_signals: bool = False,
    span_exporter: SpanExporter | None = None,
    logs: LogSink | None = None,
) -> Litestar:
    """The ASGI app; ``span_exporter`` (tests) turns tracing on with spans going there.

    ``plan`` comes from ``todostack serve``; without one (tests, tools) the app sizes itself here.
    ``logs`` is the sink ``configure_logging`` made; without one, access lines go through structlog."""
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
        compression=Compression(min_bytes=rq.compress_min_bytes),
        hot_routes=rq.hot_routes,
        metrics_public=settings.limits.metrics_public,
        trusted_proxies=settings.server.trusted_proxies,
        feed=FeedOptions(settings.feed.heartbeat_seconds, settings.feed.retry_ms, settings.feed.max_streams),
    )
    alerts = AlertQueue(rq.alert_webhook_url)
    tracing = Tracing()  # this worker's: set up when it starts, off until then (and without OTEL_*)
    logs = logs if logs is not None else LogSink()
    lifecycle = Lifecycle(
        max_inflight=config.max_inflight, policy=config.shutdown, max_streams=settings.feed.max_streams
    )
    # OTEL_* are OpenTelemetry's own variables, read as its SDK would.
    metrics = Metrics(otel=build_metrics(os.environ, active_requests=lambda: lifecycle.inflight))
    autoprof = Autoprof(
        settings.profiling,
        metrics=metrics,
        publish_alert=alerts.publish,
        workers=plan.sizing.workers,
        peers_dir=Path(plan.peer_dir) if plan.peer_dir else None,
    )

    worker = Worker(
        settings,
        plan,
        metrics,
        alerts,
        lifecycle,
        autoprof,
        logs,
        storage=lambda: worker_storage(
            storage,
            lambda: open_storage(
                settings, plan.sizing.db_pool_size, observe=metrics.observe_statement, tracing=tracing
            ),
        ),
        services=lambda store: open_services(settings, storage=store, tracing=tracing),
        span_exporter=span_exporter,
        tracing=tracing,
    )
    return create_http_app(
        config,
        worker.run,
        metrics=metrics,
        alerts=alerts,
        lifecycle=lifecycle,
        profiles=autoprof.on_demand,
        tracing=tracing,
        logs=logs,
    )
