"""Probes, OpenAPI and docs, and start-up refusals."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.server import RunningServer, run_server


def test_probes(anon: httpx.Client) -> None:
    assert anon.get("/healthz").json() == {"status": "ok"}
    assert anon.get("/readyz").json() == {"status": "ready"}


def test_openapi_document(anon: httpx.Client) -> None:
    doc = anon.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    paths = doc["paths"]
    for path in ("/api/v1/todos", "/api/v1/todos/{todo_id}", "/api/v1/lists/{list_id}/complete-all", "/todobackend"):
        assert path in paths
    assert doc["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    create = paths["/api/v1/todos"]["post"]
    assert "application/problem+json" in create["responses"]["422"]["content"]


def test_interactive_docs_are_served_from_local_files(anon: httpx.Client) -> None:
    page = anon.get("/api/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        assert f"/api/docs-assets/{asset}" in page.text
        r = anon.get(f"/api/docs-assets/{asset}")
        assert r.status_code == 200
        assert len(r.content) > 10_000


@pytest.mark.parametrize(
    ("secret", "message"),
    [(None, "TODOSTACK_SECRET_KEY is not set"), ("short", "at least 32 characters")],
    ids=["missing", "too-short"],
)
def test_production_refuses_default_secret(tmp_path: Path, secret: str | None, message: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TODOSTACK_SECRET_KEY"}
    env.update({"TODOSTACK_ENV": "production", "TODOSTACK_DATABASE_URL": f"sqlite:///{tmp_path}/p.db"})
    if secret:
        env["TODOSTACK_SECRET_KEY"] = secret
    done = subprocess.run(
        [sys.executable, "-m", "todostack", "serve"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert message in done.stderr


def _event_loop(metrics: str) -> str:
    info = [line for line in metrics.splitlines() if line.startswith("todostack_build_info{")]
    assert len(info) == 1, info
    return info[0].split('event_loop="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize(
    ("asgi_server", "asked", "running"),
    [("granian", None, "uvloop"), ("granian", "asyncio", "asyncio"), ("uvicorn", None, "uvloop")],
    ids=["granian-uvloop-by-default", "granian-asyncio-asked", "uvicorn-uvloop-by-default"],
)
def test_workers_run_the_event_loop_asked_for(
    tmp_path: Path, asgi_server: str, asked: str | None, running: str
) -> None:
    env = {"TODOSTACK_ASGI_SERVER": asgi_server}
    if asked is not None:
        env["TODOSTACK_EVENT_LOOP"] = asked
    with run_server(f"sqlite:///{tmp_path}/loop.db", tmp_path, env=env) as server, server.client() as anon:
        assert _event_loop(anon.get("/metrics").text) == running


@pytest.mark.parametrize("asgi_server", ["granian", "uvicorn"])
def test_a_port_already_taken_is_one_clear_line(tmp_path: Path, asgi_server: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "TODOSTACK_ASGI_SERVER": asgi_server,
            "TODOSTACK_DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
            "TODOSTACK_PORT": str(port),
            "TODOSTACK_WORKERS": "1",
        }
        done = subprocess.run(
            [sys.executable, "-m", "todostack", "serve"], env=env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"todostack serve: cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "Traceback" not in done.stderr
    assert "backtrace" not in done.stderr.lower()


def test_user_create_command(server: RunningServer, tmp_path: Path) -> None:
    env = {**os.environ, "TODOSTACK_DATABASE_URL": server.database_url, "TODOSTACK_USER_PASSWORD": "pass-word-12"}
    email = f"cli-{tmp_path.name[-8:]}@example.com"
    done = subprocess.run(
        [sys.executable, "-m", "todostack", "user", "create", "--email", email],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with server.client() as client:
        token = client.post("/api/v1/auth/token", json={"email": email, "password": "pass-word-12"})
    assert token.status_code == 200
