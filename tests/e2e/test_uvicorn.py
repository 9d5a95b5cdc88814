"""The app under uvicorn, the ASGI server the benchmark compares granian with."""

from __future__ import annotations

import time
from pathlib import Path

from tests.server import run_server


def test_uvicorn_serves_the_api_and_drains_on_sigterm(tmp_path: Path) -> None:
    env = {"TODOSTACK_ASGI_SERVER": "uvicorn", "TODOSTACK_SHUTDOWN_DELAY_SECONDS": "0.2"}
    with run_server(f"sqlite:///{tmp_path / 'u.db'}", tmp_path, workers=2, env=env) as server:
        with server.client() as anon:
            registered = anon.post("/api/v1/auth/register", json={"email": "u@example.com", "password": "pass-word-12"})
            assert registered.status_code == 201, registered.text
            issued = anon.post("/api/v1/auth/token", json={"email": "u@example.com", "password": "pass-word-12"})
            token = issued.json()["access_token"]
        with server.client(token) as client:
            created = client.post("/api/v1/todos", json={"title": "under uvicorn"})
            assert created.status_code == 201, created.text
            assert client.get(f"/api/v1/todos/{created.json()['id']}").json()["title"] == "under uvicorn"
        # Both workers up (ready answers as soon as one is): each must get its drain.
        deadline = time.monotonic() + 15
        while server.log.read_text().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, server.log.read_text()[-3000:]
            time.sleep(0.05)
        started = time.monotonic()
        server.process.terminate()
        # Each worker's drain hands over to uvicorn's own shutdown: without that the workers
        # keep serving and the server never exits.
        assert server.process.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
        log = server.log.read_text()
        assert log.count("draining (readiness 503)") == 2, log[-3000:]
