"""The operator's HTTP client against kmock's own pytest fixture: paths, merge patches, errors by status."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import kmock as kmocklib
import pytest

from todostack_operator.kube import ApiError, HttpKubeApi, TransientApiError, create_or_patch

pytestmark = pytest.mark.integration

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "todo", "namespace": "shop", "labels": {"app.kubernetes.io/instance": "todo"}},
    "spec": {"ports": [{"name": "http", "port": 80}]},
}


@pytest.fixture
async def api(kmock: kmocklib.KubernetesEmulator) -> AsyncIterator[HttpKubeApi]:
    kmock.resources["v1/services"] = kmocklib.ResourceInfo(kind="Service", namespaced=True)
    kmock.resources["apps/v1/deployments"] = kmocklib.ResourceInfo(kind="Deployment", namespaced=True)
    async with aiohttp.ClientSession() as session:
        yield HttpKubeApi(session, str(kmock.url))


async def test_create_get_patch_list_delete(api: HttpKubeApi) -> None:
    assert await api.get("v1", "Service", "shop", "todo") is None
    await api.create(SERVICE)
    _, created = await create_or_patch(api, {**SERVICE, "spec": {"ports": [{"name": "http", "port": 8080}]}})
    assert not created, "a 409 on create must turn into a patch"
    found = await api.get("v1", "Service", "shop", "todo")
    assert found is not None
    assert found["spec"]["ports"] == [{"name": "http", "port": 8080}]
    assert [
        s["metadata"]["name"] for s in await api.list("v1", "Service", "shop", {"app.kubernetes.io/instance": "todo"})
    ] == ["todo"]
    assert await api.list("v1", "Service", "shop", {"app.kubernetes.io/instance": "other"}) == []
    assert await api.delete("v1", "Service", "shop", "todo") is True
    assert await api.delete("v1", "Service", "shop", "todo") is False


@pytest.mark.parametrize(
    ("status", "error"),
    [
        pytest.param(500, TransientApiError, id="500-transient"),
        pytest.param(429, TransientApiError, id="429-transient"),
        pytest.param(503, TransientApiError, id="503-transient"),
        pytest.param(403, ApiError, id="403-permanent"),
        pytest.param(422, ApiError, id="422-permanent"),
    ],
)
async def test_answers_map_to_transient_or_permanent_errors(
    api: HttpKubeApi, kmock: kmocklib.KubernetesEmulator, status: int, error: type[ApiError]
) -> None:
    kmock["get", kmocklib.resource("apps", "v1", "deployments")] << kmocklib.KubernetesError(
        status=status, reason="Injected", message="no"
    )
    with pytest.raises(error) as raised:
        await api.get("apps/v1", "Deployment", "shop", "todo")
    assert raised.value.status == status
    assert type(raised.value) is error


async def test_an_unreachable_server_is_transient() -> None:
    async with aiohttp.ClientSession() as session:
        api = HttpKubeApi(session, "http://127.0.0.1:9", timeout=5)
        with pytest.raises(TransientApiError):
            await api.get("v1", "Service", "shop", "todo")
