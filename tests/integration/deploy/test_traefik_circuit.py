"""The chart's circuit breaker in a real Traefik, in front of a real `todostack serve` on a private PostgreSQL cluster
(``tests/chaos/pgcluster.py``) that the test stops and starts again.

Database down: the service answers 503 + ``Retry-After`` (problem+json, with its request id); past the breaker's
5xx ratio Traefik opens the circuit and answers 503 itself, without reaching the service (no request id); once
the database is back and the fallback has passed, the circuit closes and reads succeed again. Traefik's own
/readyz health check is left out here, so that only the breaker stands between clients and the failing service.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.chaos.pgcluster import PrivateCluster, require_tools
from tests.integration.deploy.traefik_proxy import HOST, Proxy, dynamic_config, log_tail, rendered, traefik
from tests.server import RunningServer, run_server

pytestmark = [pytest.mark.integration, pytest.mark.deploy, pytest.mark.timeout(600)]

PASSWORD = "circuit breaker passphrase 2026"
VALUES = {
    "traefik": {
        "enabled": True,
        "host": HOST,
        "entryPoints": ["web"],
        "rateLimit": {"average": 100000, "burst": 100000, "period": "1s"},
        # The chart's expression and check period; shorter fallback and recovery so that the test is short.
        "circuitBreaker": {"fallbackDuration": "3s", "recoveryDuration": "2s"},
    }
}


@dataclass
class Answers:
    """Every answer of the load, in order: (status, answered by the service itself)."""

    seen: list[tuple[int, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int, from_service: bool) -> None:
        with self.lock:
            self.seen.append((status, from_service))

    def since(self, index: int) -> list[tuple[int, bool]]:
        with self.lock:
            return self.seen[index:]

    def count(self) -> int:
        with self.lock:
            return len(self.seen)


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    tools = require_tools()
    if tools is None:
        pytest.skip("SKIPPING: no PostgreSQL server binaries (initdb, pg_ctl)")
    # Straight under /tmp: user postgres cannot enter pytest's root-only temp folders.
    private = PrivateCluster(Path(tempfile.mkdtemp(prefix="todostack-edge-pg-")), bin_dir=tools)
    private.init()
    private.start()
    try:
        private.execute("CREATE DATABASE edge")
        done = subprocess.run(
            [sys.executable, "-m", "todostack", "migrate"],
            env={"PATH": "/usr/bin:/bin", "TODOSTACK_DATABASE_URL": private.url("edge")},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
        yield private
    finally:
        private.destroy()


def _token(server: RunningServer) -> str:
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    with server.client() as http:
        registered = http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        issued = http.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        assert issued.status_code == 200, issued.text
        token: str = issued.json()["access_token"]
        return token


def _load(proxy: Proxy, token: str, answers: Answers, stop: threading.Event) -> None:
    with proxy.client() as client:
        client.headers["Authorization"] = f"Bearer {token}"
        while not stop.is_set():
            try:
                answer = client.get("/api/v1/todos")
            except httpx.HTTPError:
                answers.add(0, False)
                continue
            answers.add(answer.status_code, "x-request-id" in answer.headers)
            time.sleep(0.01)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_database_down_opens_the_circuit_and_recovery_closes_it(cluster: PrivateCluster, tmp_path: Path) -> None:
    env = {"TODOSTACK_DB_ACQUIRE_TIMEOUT_SECONDS": "1", "TODOSTACK_DB_POOL_SIZE": "2"}
    with run_server(cluster.url("edge"), tmp_path, env=env) as app:
        token = _token(app)
        dynamic = dynamic_config(rendered(VALUES), app.url, health_check=False)
        with traefik(tmp_path / "traefik", dynamic) as proxy:
            answers, stop = Answers(), threading.Event()
            load = threading.Thread(target=_load, args=(proxy, token, answers, stop), daemon=True)
            load.start()
            try:
                _wait(lambda: sum(s == 200 for s, _ in answers.since(0)) >= 50, "no reads succeeded before the fault")
                cluster.stop("immediate")
                down = answers.count()

                def circuit_open() -> bool:
                    return sum(1 for s, ours in answers.since(down) if s == 503 and not ours) >= 20

                _wait(circuit_open, f"the circuit never opened: {answers.since(down)[-20:]}\n{log_tail(proxy)}")
                during = answers.since(down)
                # Before it opened, the service itself said 503 + Retry-After, never a 500.
                assert {s for s, _ in during} <= {200, 503}, during
                assert any(s == 503 and ours for s, ours in during), "the service never answered for itself"
                with proxy.client() as client:
                    refused = client.get("/api/v1/todos", headers={"Authorization": f"Bearer {token}"})
                    if refused.status_code == 503 and "x-request-id" not in refused.headers:
                        assert "problem" not in refused.headers.get("content-type", "")

                cluster.start()
                back = answers.count()

                def closed() -> bool:
                    tail = answers.since(back)
                    return len(tail) >= 30 and all(s == 200 for s, _ in tail[-30:])

                _wait(closed, f"the circuit did not close after recovery: {answers.since(back)[-30:]}")
            finally:
                stop.set()
                load.join(timeout=30)
        assert {s for s, _ in answers.since(0)} <= {200, 503}, "a status other than 200 or 503 reached a client"
