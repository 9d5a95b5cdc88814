"""The kopf wiring: which events run the reconcile step, how errors become retries, and the finalizer.

`register(registry, config)` adds every handler to a kopf registry, so the CLI and the tests build the same
operator without import-time side effects.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kopf

from todostack_operator import API_VERSION, GROUP, KIND, MANAGER, PLURAL, VERSION
from todostack_operator import children as build
from todostack_operator.kube import ApiError, HttpKubeApi, KubeApi, TransientApiError
from todostack_operator.metrics import OperatorMetrics
from todostack_operator.naming import Owner
from todostack_operator.reconcile import Stack, reconcile
from todostack_operator.settings import OperatorConfig
from todostack_operator.spec import InvalidSpec, parse_spec

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


@dataclass(slots=True)
class Runtime:
    """What the handlers share: the API client, one lock per stack, the metrics."""

    config: OperatorConfig
    metrics: OperatorMetrics = field(default_factory=OperatorMetrics)
    clock: Clock = utc_now
    connection: kopf.ConnectionInfo | None = None
    api_factory: Callable[[kopf.ConnectionInfo], HttpKubeApi] | None = None
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    stopping: bool = False
    _api: HttpKubeApi | None = None

    def api(self) -> HttpKubeApi:
        if self.stopping:
            raise TransientApiError(0, "Stopping", "the operator is stopping")
        if self._api is None:
            if self.connection is None:
                raise TransientApiError(0, "NotLoggedIn", "the operator has no API credentials yet")
            factory = self.api_factory or _http_api
            self._api = factory(self.connection)
        return self._api

    async def relogin(self, connection: kopf.ConnectionInfo) -> None:
        self.connection = connection
        old, self._api = self._api, None
        if old is not None:
            await old.close()

    def lock(self, uid: str) -> asyncio.Lock:
        if uid not in self.locks:
            self.locks[uid] = asyncio.Lock()
            self.metrics.stacks.set(len(self.locks))
        return self.locks[uid]

    def forget(self, uid: str) -> None:
        self.locks.pop(uid, None)
        self.metrics.stacks.set(len(self.locks))


def _http_api(connection: kopf.ConnectionInfo) -> HttpKubeApi:
    secure = connection.server.startswith("https:")
    session = HttpKubeApi.session_for(connection.as_http_headers(), connection.as_ssl_context() if secure else None)
    return HttpKubeApi(session, connection.server)


def _owner(body: kopf.Body) -> Owner:
    meta = body["metadata"]
    return Owner(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])


async def step(runtime: Runtime, body: kopf.Body, trigger: str, retry: int, logger: logging.Logger | Any) -> None:
    """One reconcile step under the stack's lock, its status written before the lock is released."""
    owner = _owner(body)
    if body["metadata"].get("deletionTimestamp"):
        return  # the finalizer's turn
    started = time.perf_counter()
    result = "ok"
    async with runtime.lock(owner.uid):
        try:
            api: KubeApi = runtime.api()
            # The body kopf hands over may predate the last step's status write: read the object again.
            fresh = await api.get(API_VERSION, KIND, owner.namespace, owner.name)
            if fresh is None:
                return
            stack = Stack(
                owner=owner,
                generation=int(fresh["metadata"].get("generation", 0)),
                spec=fresh.get("spec", {}),
                status=fresh.get("status", {}),
            )

            def emit(kind: str, reason: str, message: str) -> None:
                kopf.event(body, type=kind, reason=reason, message=message)
                (logger.warning if kind == "Warning" else logger.info)(f"{reason}: {message}")

            outcome = await reconcile(api, stack, now=runtime.clock(), emit=emit)
            await api.patch_status(API_VERSION, KIND, owner.namespace, owner.name, outcome.status)
        except TransientApiError as exc:
            result = "retry"
            runtime.metrics.api_errors.labels(str(exc.status)).inc()
            delay = runtime.config.backoff(retry)
            raise kopf.TemporaryError(f"transient API error, retrying in {delay:.1f} s: {exc}", delay=delay) from exc
        except ApiError as exc:
            result = "error"
            runtime.metrics.api_errors.labels(str(exc.status)).inc()
            raise
        finally:
            runtime.metrics.reconciles.labels(trigger, result).inc()
            runtime.metrics.duration.labels(trigger).observe(time.perf_counter() - started)
    for label in outcome.repaired:
        runtime.metrics.drift_repairs.labels(label.split("/", 1)[0]).inc()
    if outcome.rolled_back:
        runtime.metrics.rollbacks.inc()


async def finalize(runtime: Runtime, body: kopf.Body, logger: logging.Logger | Any) -> None:
    """Delete what owner references cannot: a ServiceMonitor in another namespace. Then forget the stack."""
    owner = _owner(body)
    try:
        spec = parse_spec(body.get("spec", {}))
    except InvalidSpec:
        spec = None
    if spec is not None:
        monitor = build.service_monitor(owner, spec)
        if monitor is not None and monitor["metadata"]["namespace"] != owner.namespace:
            try:
                api = runtime.api()
                gone = await api.delete(
                    "monitoring.coreos.com/v1", "ServiceMonitor", monitor["metadata"]["namespace"], owner.name
                )
            except TransientApiError as exc:
                raise kopf.TemporaryError(
                    f"cannot delete the ServiceMonitor yet: {exc}", delay=runtime.config.backoff(0)
                ) from exc
            if gone:
                kopf.info(
                    body,
                    reason="Deleted",
                    message=f"ServiceMonitor {monitor['metadata']['namespace']}/{owner.name} deleted",
                )
    runtime.forget(owner.uid)
    logger.info("finalized: owned children are left to garbage collection")


def register(registry: kopf.OperatorRegistry, runtime: Runtime) -> None:
    """Add the operator's handlers to `registry`."""
    config = runtime.config
    resource = (GROUP, VERSION, PLURAL)

    @kopf.on.startup(registry=registry)
    async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = config.finalizer
        settings.posting.reporting_component = MANAGER
        settings.posting.level = logging.INFO
        settings.networking.error_backoffs = [config.backoff(i) for i in range(6)]
        settings.peering.name = config.peering or settings.peering.name
        settings.peering.standalone = config.peering is None
        settings.peering.clusterwide = not config.namespaces

    @kopf.on.login(registry=registry)
    async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        if config.server is not None:
            connection: kopf.ConnectionInfo | None = kopf.ConnectionInfo(server=config.server)
        else:
            connection = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
        if connection is not None:
            await runtime.relogin(connection)
        return connection

    @kopf.on.cleanup(registry=registry)
    async def close(**_: Any) -> None:
        runtime.stopping = True
        api, runtime._api = runtime._api, None
        if api is not None:
            await api.close()

    @kopf.on.probe(id="stacks", registry=registry)
    def stacks(**_: Any) -> int:
        return len(runtime.locks)

    async def on_change(body: kopf.Body, retry: int, logger: Any, reason: Any = "change", **_: Any) -> None:
        await step(runtime, body, str(reason), retry, logger)

    for decorate, name in ((kopf.on.create, "create"), (kopf.on.update, "update"), (kopf.on.resume, "resume")):
        decorate(*resource, id=f"reconcile-on-{name}", registry=registry)(on_change)

    @kopf.timer(*resource, id="drift", interval=config.resync_seconds, registry=registry)
    async def drift(body: kopf.Body, logger: Any, **kwargs: Any) -> None:
        await step(runtime, body, "timer", int(kwargs.get("retry", 0)), logger)

    @kopf.on.delete(*resource, id="cleanup", registry=registry)
    async def cleanup(body: kopf.Body, logger: Any, **_: Any) -> None:
        await finalize(runtime, body, logger)
