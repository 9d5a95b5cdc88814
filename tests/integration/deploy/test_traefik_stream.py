"""The change stream through the chart's Traefik chain (a real Traefik in front of a real server):
events pass unbuffered, one by one as they happen, heartbeats included."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.sse import EventStream
from tests.integration.deploy.traefik_proxy import HOST, Proxy, dynamic_config, rendered, traefik
from tests.server import RunningServer, run_server

pytestmark = [pytest.mark.integration, pytest.mark.deploy, pytest.mark.timeout(600)]

VALUES = {
    "traefik": {
        "enabled": True,
        "host": HOST,
        "entryPoints": ["web"],
        "rateLimit": {"average": 100, "burst": 100, "period": "1s"},
        "authRateLimit": {"average": 100, "burst": 100, "period": "1s"},
    }
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("app")
    env = {"TODOSTACK_FEED_HEARTBEAT_SECONDS": "0.3"}
    with run_server(f"sqlite:///{tmp}/todo.db", tmp, workers=1, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(app: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with traefik(tmp_path_factory.mktemp("traefik"), dynamic_config(rendered(VALUES), app.url)) as running:
        yield running


def test_the_change_stream_passes_traefik_unbuffered(app: RunningServer, proxy: Proxy) -> None:
    email, password = f"{uuid.uuid4().hex[:10]}@example.com", "a long enough password"
    with proxy.client() as edge:
        assert edge.post("/api/v1/auth/register", json={"email": email, "password": password}).status_code == 201
        token = edge.post("/api/v1/auth/token", json={"email": email, "password": password}).json()["access_token"]
    stream_client = proxy.client()
    stream_client.headers["Authorization"] = f"Bearer {token}"
    stream = EventStream(stream_client, "/api/v1/changes/stream")
    try:
        assert stream.status == 200
        stream.next(kind="ready")
        stream.wait_for(lambda: len(stream.comments) >= 2, timeout=10)  # heartbeats come through one by one
        with app.client(token) as direct:
            for n in range(3):
                # One small event at a time: a proxy that buffered would hold each (a few hundred
                # bytes) until far more came, so each must arrive before the next write is made.
                created = direct.post("/api/v1/todos", json={"title": f"through traefik {n}"}).json()
                event = stream.next(30.0)
                assert json.loads(event.data)["entity_id"] == created["id"]
    finally:
        stream.close()
