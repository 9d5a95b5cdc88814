"""An emulated Kubernetes API (kmock) with the operator running in-process against it, on a thread of its own.

kmock 0.8 stores objects but is not a whole API server; `ApiServer` adds the bookkeeping the operator relies on
(uid, resourceVersion, creationTimestamp, and `metadata.generation` bumped on every spec change, atomically with
the write, as the real one does). Nothing runs the controllers: the tests play them (Job and Deployment status,
garbage collection) through plain HTTP, as a controller would. Everything the test reads it reads over HTTP too.

The emulator and kopf share one event loop on a background thread; the test body stays synchronous and waits
with bounded polls (`wait_for`), so a slow machine only makes it slower, never wrong.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import kmock
import kopf

from tests.fake_kube import merge_patch
from todostack_operator.handlers import Runtime, register
from todostack_operator.settings import OperatorConfig

T = TypeVar("T")
START_TIMEOUT = 60.0

RESOURCES = {
    "todostack.dev/v1alpha1/todostacks": ("TodoStack", {"status"}),
    "batch/v1/jobs": ("Job", {"status"}),
    "apps/v1/deployments": ("Deployment", {"status", "scale"}),
    "v1/services": ("Service", set()),
    "v1/pods": ("Pod", {"status"}),
    "v1/events": ("Event", set()),
    "autoscaling/v2/horizontalpodautoscalers": ("HorizontalPodAutoscaler", {"status"}),
    "policy/v1/poddisruptionbudgets": ("PodDisruptionBudget", {"status"}),
    "traefik.io/v1alpha1/middlewares": ("Middleware", set()),
    "traefik.io/v1alpha1/ingressroutes": ("IngressRoute", set()),
    "monitoring.coreos.com/v1/servicemonitors": ("ServiceMonitor", set()),
    # kopf waits for these two to be discoverable before it watches anything (cluster-wide: never lists them).
    "apiextensions.k8s.io/v1/customresourcedefinitions": ("CustomResourceDefinition", {"status"}),
    "v1/namespaces": ("Namespace", {"status"}),
}
VERBS = {"list", "watch", "get", "create", "patch", "update", "delete"}


class ApiServer(kmock.KubernetesEmulator):
    """kmock's emulator plus the metadata bookkeeping of a real API server."""

    _versions = itertools.count(1)

    injected: list[Injected]

    async def _handle(self, request: kmock.Request) -> Any:
        for injection in getattr(self, "injected", ()):
            if injection.take(request):
                return await self._render_error(injection.error)
        data = request.data
        if request.resource is not None and isinstance(data, dict):
            meta = data.setdefault("metadata", {})
            if request.action == kmock.action.CREATE:
                if "name" not in meta and "generateName" in meta:  # kopf names its Events this way
                    meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:8]}"
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("creationTimestamp", datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
                meta["generation"] = 1
                meta["resourceVersion"] = str(next(self._versions))
            elif request.action == kmock.action.UPDATE and request.name is not None:
                key = (request.resource, request.namespace, request.name)
                if key in self.objects and not self.objects[key].deleted:
                    before = self.objects[key].raw
                    after = merge_patch(before, data)
                    if request.subresource is None and after.get("spec") != before.get("spec"):
                        meta["generation"] = before.get("metadata", {}).get("generation", 0) + 1
                    meta["resourceVersion"] = str(next(self._versions))
        elif request.resource is not None and isinstance(data, list) and request.action == kmock.action.UPDATE:
            data.append({"op": "add", "path": "/metadata/resourceVersion", "value": str(next(self._versions))})
        return await super()._handle(request)


class Injected:
    """Answer an error, with no state change, to the first `times` operator requests matching a method and resource
    (or, with `lifted_by`, until the operator sends a request of that method on the same resource)."""

    def __init__(
        self, method: str, plural: str, subresource: str | None, times: int, error: Exception, lifted_by: str | None
    ) -> None:
        self.method, self.plural, self.subresource = method.upper(), plural, subresource
        self.times = times
        self.error = error
        self.lifted_by = lifted_by.upper() if lifted_by else None
        self.hit = 0

    def take(self, request: kmock.Request) -> bool:
        if self.hit >= self.times or request.resource is None or request.resource.plural != self.plural:
            return False
        if request.headers.get("User-Agent", "").startswith("python-httpx"):
            return False  # the test itself, playing a controller, is never refused
        method = str(getattr(request.method, "value", request.method)).upper()
        if method == self.lifted_by:
            self.times = 0  # the request this injection was waiting for
            return False
        if method != self.method or request.subresource != self.subresource:
            return False
        self.hit += 1
        return True


class Cluster:
    """The emulator and the operator on a background loop; `http` talks to the emulator synchronously."""

    def __init__(self, config: OperatorConfig, *, with_operator: bool = True) -> None:
        self.config = config
        self.with_operator = with_operator
        self.loop = asyncio.new_event_loop()
        self.loop.set_debug(False)  # the test's own loop is the one checked for blocking callbacks
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.runtime: Runtime | None = None
        self.emulator: ApiServer | None = None
        self.url = ""
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="kopf-under-test", daemon=True)

    # --- the background thread -------------------------------------------------------------------------
    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread, which fails with it
            self.failure = exc
            self.ready.set()
        finally:
            # kopf may leave a timer orphaned at exit ("did not exit in time"): cancel it rather than drop it.
            leftovers = asyncio.all_tasks(self.loop)
            for task in leftovers:
                task.cancel()
            if leftovers:
                gathered = asyncio.gather(*leftovers, return_exceptions=True)
                self.loop.run_until_complete(asyncio.wait_for(gathered, timeout=10))
            self.loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with ApiServer() as emulator, kmock.Server(emulator) as server:
            for path, (kind, subresources) in RESOURCES.items():
                namespaced = kind not in ("CustomResourceDefinition", "Namespace")
                emulator.resources[path] = kmock.ResourceInfo(
                    kind=kind, namespaced=namespaced, verbs=VERBS, subresources=subresources
                )
            emulator.injected = []
            self.emulator, self.url = emulator, str(server.url).rstrip("/")
            if not self.with_operator:  # the operator runs elsewhere (e.g. as a process)
                self.ready.set()
                await self._stop.wait()
                return
            self.runtime = Runtime(config=dataclasses.replace(self.config, server=self.url))
            registry = kopf.OperatorRegistry()
            register(registry, self.runtime)

            @kopf.on.startup(registry=registry)
            def for_the_emulator(settings: kopf.OperatorSettings, **_: Any) -> None:
                settings.watching.server_timeout = 30
                settings.watching.client_timeout = 40
                settings.watching.reconnect_backoff = 0.1

            stop_flag: asyncio.Event = asyncio.Event()
            ready_flag: asyncio.Event = asyncio.Event()
            operator = asyncio.create_task(
                kopf.operator(
                    registry=registry, clusterwide=True, standalone=True, stop_flag=stop_flag, ready_flag=ready_flag
                )
            )
            waiter = asyncio.create_task(ready_flag.wait())
            await asyncio.wait({operator, waiter}, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
            if operator.done():
                operator.result()  # raises what stopped it
            if not ready_flag.is_set():
                raise TimeoutError(f"kopf was not ready within {START_TIMEOUT} s")
            self.ready.set()
            await self._stop.wait()
            stop_flag.set()
            await asyncio.wait_for(operator, timeout=30)

    # --- the test thread ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        if not self.ready.wait(START_TIMEOUT + 10):
            raise TimeoutError("the emulator and the operator did not start")
        if self.failure is not None:
            raise self.failure
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def stop(self) -> None:
        self.http.close()
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        assert not self._thread.is_alive(), "the operator did not stop within 60 s"

    def call(self, fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return asyncio.run_coroutine_threadsafe(fn(), self.loop).result(30)

    def inject(
        self,
        method: str,
        resource: str,
        status: int,
        times: int,
        reason: str,
        subresource: str | None = None,
        lifted_by: str | None = None,
    ) -> Injected:
        """The operator's next `times` `method` requests on `resource` get `status`, and change nothing."""
        assert self.emulator is not None
        error = kmock.KubernetesError(status=status, reason=reason, message=f"injected {status}")
        injection = Injected(method, resource.rsplit("/", 1)[1], subresource, times, error, lifted_by)
        self.emulator.injected.append(injection)
        return injection

    # --- reading and writing like a controller would -------------------------------------------------------
    @staticmethod
    def path(resource: str, namespace: str, name: str | None = None) -> str:
        group_version, plural = resource.rsplit("/", 1)
        prefix = f"/apis/{group_version}" if "/" in group_version else f"/api/{group_version}"
        base = f"{prefix}/namespaces/{namespace}/{plural}"
        return base if name is None else f"{base}/{name}"

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        response = self.http.get(self.path(resource, namespace, name))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def list(self, resource: str, namespace: str) -> list[dict[str, Any]]:
        response = self.http.get(self.path(resource, namespace))
        response.raise_for_status()
        return response.json()["items"]  # type: ignore[no-any-return]

    def create(self, resource: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(self.path(resource, namespace), json=body)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def patch(self, resource: str, namespace: str, name: str, body: dict[str, Any], sub: str = "") -> None:
        path = self.path(resource, namespace, name) + (f"/{sub}" if sub else "")
        headers = {"Content-Type": "application/merge-patch+json"}
        self.http.patch(path, json=body, headers=headers).raise_for_status()

    def delete(self, resource: str, namespace: str, name: str) -> None:
        self.http.delete(self.path(resource, namespace, name)).raise_for_status()


@contextmanager
def running(*, with_operator: bool = True, **config: Any) -> Iterator[Cluster]:
    cluster = Cluster(OperatorConfig(**config), with_operator=with_operator)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0, interval: float = 0.05) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` (and the last value) after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last seen: {last!r}")
