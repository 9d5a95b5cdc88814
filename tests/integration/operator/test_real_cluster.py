"""The opt-in tier: the operator against a real cluster (kind, k3s, any), which does what the emulator cannot —
real controllers run the migration Job and the pods, garbage collection removes owned children.

Runs only with TODOSTACK_TEST_KUBECONFIG (a kubeconfig whose current context may create namespaces and CRDs) and
TODOSTACK_TEST_IMAGE (a Todo Stack image the cluster can pull, e.g. loaded with `kind load docker-image`).
docs/operator.md says how to run it on kind.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import kopf
import pytest

from tests.integration.operator.cluster import wait_for
from tests.k8s_schemas import OPERATOR_DIR, load_all
from todostack_operator.handlers import Runtime, register
from todostack_operator.settings import OperatorConfig

pytestmark = pytest.mark.integration

KUBECONFIG = os.environ.get("TODOSTACK_TEST_KUBECONFIG", "")
IMAGE = os.environ.get("TODOSTACK_TEST_IMAGE", "")
# The in-memory store needs no database server; point it at a real PostgreSQL to exercise real migrations.
DATABASE_URL = os.environ.get("TODOSTACK_TEST_DATABASE_URL", "memory://")
if not KUBECONFIG or not IMAGE:
    pytest.skip(
        "REAL-CLUSTER TIER SKIPPED: set TODOSTACK_TEST_KUBECONFIG and TODOSTACK_TEST_IMAGE to run the operator "
        "against a real cluster (docs/operator.md: 'The real-cluster tier on kind')",
        allow_module_level=True,
    )
SLOW = 300.0  # image pulls and pod starts on a real cluster


def _client() -> httpx.Client:
    os.environ["KUBECONFIG"] = KUBECONFIG
    info = kopf.login_with_kubeconfig(settings=kopf.OperatorSettings())
    assert info is not None, f"no credentials in {KUBECONFIG}"
    verify: Any = info.as_ssl_context() if info.server.startswith("https:") else False
    return httpx.Client(base_url=info.server, headers=info.as_http_headers(), verify=verify, timeout=30)


class Api:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def apply(self, collection: str, body: dict[str, Any]) -> None:
        answer = self.client.post(collection, json=body)
        if answer.status_code == 409:
            name = body["metadata"]["name"]
            headers = {"Content-Type": "application/merge-patch+json"}
            self.client.patch(f"{collection}/{name}", json=body, headers=headers).raise_for_status()
        else:
            answer.raise_for_status()

    def get(self, path: str) -> dict[str, Any] | None:
        answer = self.client.get(path)
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return answer.json()  # type: ignore[no-any-return]


@pytest.fixture
def namespace() -> Iterator[tuple[Api, str]]:
    api = Api(_client())
    crd = load_all(OPERATOR_DIR / "crd.yaml")[0]
    api.apply("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    name = f"todostack-test-{uuid.uuid4().hex[:6]}"
    api.apply("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "stringData": {"url": DATABASE_URL, "secret-key": uuid.uuid4().hex * 2},
    }
    api.apply(f"/api/v1/namespaces/{name}/secrets", secret)
    try:
        yield api, name
    finally:
        api.client.delete(f"/api/v1/namespaces/{name}")
        api.client.close()


@pytest.fixture
def operator(namespace: tuple[Api, str]) -> Iterator[Runtime]:
    _, ns = namespace
    runtime = Runtime(config=OperatorConfig(namespaces=(ns,), resync_seconds=5, backoff_seconds=1))
    registry = kopf.OperatorRegistry()
    register(registry, runtime)
    loop = asyncio.new_event_loop()
    stop: asyncio.Event | None = None

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        await kopf.operator(registry=registry, namespaces=[ns], standalone=True, stop_flag=stop)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        yield runtime
    finally:
        deadline = time.monotonic() + 10
        while stop is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(60)


def test_a_todostack_comes_up_heals_and_goes_away(namespace: tuple[Api, str], operator: Runtime) -> None:
    api, ns = namespace
    stacks = f"/apis/todostack.dev/v1alpha1/namespaces/{ns}/todostacks"
    body = {
        "apiVersion": "todostack.dev/v1alpha1",
        "kind": "TodoStack",
        "metadata": {"name": "todo"},
        "spec": {
            "image": IMAGE,
            "database": {"urlSecret": {"name": "db", "key": "url"}},
            "replicas": 1,
            "secretKey": {"name": "db", "key": "secret-key"},
        },
    }
    api.apply(stacks, body)

    def available() -> bool:
        conditions = ((api.get(f"{stacks}/todo") or {}).get("status") or {}).get("conditions", [])
        return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)

    wait_for("Available=True on a real cluster", available, timeout=SLOW, interval=1)
    deployment = f"/apis/apps/v1/namespaces/{ns}/deployments/todo"
    assert api.get(deployment) is not None

    api.client.delete(f"/api/v1/namespaces/{ns}/services/todo").raise_for_status()
    wait_for("the Service recreated", lambda: api.get(f"/api/v1/namespaces/{ns}/services/todo"), timeout=60)

    api.client.delete(f"{stacks}/todo").raise_for_status()
    wait_for("the TodoStack gone", lambda: api.get(f"{stacks}/todo") is None, timeout=60, interval=1)
    wait_for("the Deployment garbage-collected", lambda: api.get(deployment) is None, timeout=SLOW, interval=1)
