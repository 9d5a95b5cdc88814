"""The Kubernetes API port the reconcile step needs, and its implementation over aiohttp with kopf's credentials.

Errors form a small tree::

    ApiError                 a response the operator cannot act on (4xx): surfaced in status, not retried
     └── TransientApiError   429, 5xx, timeouts, refused connections: retried with backoff
"""

from __future__ import annotations

import json
import ssl
from typing import Any, Protocol

import aiohttp

Manifest = dict[str, Any]

# The kinds a TodoStack touches, with their plural resource names.
PLURALS = {
    "Job": "jobs",
    "Deployment": "deployments",
    "Service": "services",
    "HorizontalPodAutoscaler": "horizontalpodautoscalers",
    "PodDisruptionBudget": "poddisruptionbudgets",
    "Middleware": "middlewares",
    "IngressRoute": "ingressroutes",
    "ServiceMonitor": "servicemonitors",
    "Pod": "pods",
    "Secret": "secrets",
    "TodoStack": "todostacks",
}
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class ApiError(Exception):
    """The API server refused a request."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class TransientApiError(ApiError):
    """A refusal worth retrying later (throttled, server trouble, network)."""


class KubeApi(Protocol):
    """What the reconcile step asks of the API server."""

    async def get(self, api_version: str, kind: str, namespace: str, name: str) -> Manifest | None: ...

    async def create(self, manifest: Manifest) -> Manifest: ...

    async def patch(self, manifest: Manifest) -> Manifest: ...

    async def delete(self, api_version: str, kind: str, namespace: str, name: str) -> bool: ...

    async def patch_status(self, api_version: str, kind: str, namespace: str, name: str, status: Manifest) -> None: ...

    async def list(self, api_version: str, kind: str, namespace: str, labels: dict[str, str]) -> list[Manifest]: ...


def path(api_version: str, kind: str, namespace: str, name: str | None = None) -> str:
    """The REST path of a namespaced object (or of its collection when `name` is None)."""
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    collection = f"{prefix}/namespaces/{namespace}/{PLURALS[kind]}"
    return collection if name is None else f"{collection}/{name}"


async def create_or_patch(api: KubeApi, manifest: Manifest) -> tuple[Manifest, bool]:
    """Create `manifest`, or merge-patch it when it exists: a 409 on create means "exists, patch it".

    Returns the object and whether it was created.
    """
    try:
        return await api.create(manifest), True
    except ApiError as exc:
        if exc.status != 409:
            raise
    return await api.patch(manifest), False


class HttpKubeApi:
    """`KubeApi` over HTTP, using the connection details kopf logged in with."""

    def __init__(self, session: aiohttp.ClientSession, server: str, *, timeout: float = 30.0) -> None:
        self._session = session
        self._server = server.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    @classmethod
    def session_for(
        cls, headers: dict[str, str], ssl_context: ssl.SSLContext | None
    ) -> aiohttp.ClientSession:  # pragma: no cover - trivial wiring
        connector = aiohttp.TCPConnector(ssl=ssl_context if ssl_context is not None else False, limit=16)
        return aiohttp.ClientSession(headers=headers, connector=connector)

    async def _call(self, method: str, url_path: str, **kwargs: Any) -> tuple[int, Any]:
        try:
            async with self._session.request(
                method, self._server + url_path, timeout=self._timeout, **kwargs
            ) as response:
                text = await response.text()
                try:
                    body = json.loads(text) if text else None
                except ValueError:  # an HTML error page from a proxy, say
                    body = {"reason": "NotJSON", "message": text[:200]}
                return response.status, body
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise TransientApiError(0, type(exc).__name__, str(exc) or "no answer") from exc

    @staticmethod
    def _raise(status: int, body: Any) -> None:
        reason = body.get("reason", "") if isinstance(body, dict) else ""
        message = body.get("message", "") if isinstance(body, dict) else str(body)
        error = TransientApiError if status in TRANSIENT_STATUSES else ApiError
        raise error(status, str(reason), str(message)[:500])

    async def get(self, api_version: str, kind: str, namespace: str, name: str) -> Manifest | None:
        status, body = await self._call("GET", path(api_version, kind, namespace, name))
        if status == 404:
            return None
        if status >= 300:
            self._raise(status, body)
        return body  # type: ignore[no-any-return]

    async def create(self, manifest: Manifest) -> Manifest:
        meta = manifest["metadata"]
        url = path(manifest["apiVersion"], manifest["kind"], meta["namespace"])
        status, body = await self._call("POST", url, json=manifest)
        if status >= 300:
            self._raise(status, body)
        return body  # type: ignore[no-any-return]

    async def patch(self, manifest: Manifest) -> Manifest:
        meta = manifest["metadata"]
        url = path(manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"])
        headers = {"Content-Type": "application/merge-patch+json"}
        status, body = await self._call("PATCH", url, json=manifest, headers=headers)
        if status >= 300:
            self._raise(status, body)
        return body  # type: ignore[no-any-return]

    async def patch_status(self, api_version: str, kind: str, namespace: str, name: str, status: Manifest) -> None:
        url = path(api_version, kind, namespace, name) + "/status"
        headers = {"Content-Type": "application/merge-patch+json"}
        code, body = await self._call("PATCH", url, json={"status": status}, headers=headers)
        if code >= 300:
            self._raise(code, body)

    async def close(self) -> None:
        await self._session.close()

    async def delete(self, api_version: str, kind: str, namespace: str, name: str) -> bool:
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        status, body = await self._call("DELETE", path(api_version, kind, namespace, name), json=options)
        if status == 404:
            return False
        if status >= 300:
            self._raise(status, body)
        return True

    async def list(self, api_version: str, kind: str, namespace: str, labels: dict[str, str]) -> list[Manifest]:
        selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
        url = path(api_version, kind, namespace)
        status, body = await self._call("GET", url, params={"labelSelector": selector})
        if status >= 300:
            self._raise(status, body)
        items = body.get("items", []) if isinstance(body, dict) else []
        # Filtered here as well: an API (or an emulator) that ignores the selector must not widen the answer.
        return [
            item
            for item in items
            if all(item.get("metadata", {}).get("labels", {}).get(k) == v for k, v in labels.items())
        ]
