"""A real server per storage backend (SQLite file, PostgreSQL schema), shared by the e2e tests."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import Browser

from tests.e2e.browser import chromium
from tests.server import RunningServer, run_postgres_server, run_server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium through Playwright, one per browser test module."""
    with chromium() as b:
        yield b


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp(f"server-{request.param}")
    # Every test here signs in from 127.0.0.1, some with wrong passwords on purpose (schemathesis
    # a great many): the address limit would soon refuse everyone's sign-in. test_auth_hardening
    # runs servers with the default limits.
    env = {"TODOSTACK_SIGNIN_IP_LIMIT": "1000000"}
    if request.param == "sqlite":
        with run_server(f"sqlite:///{tmp}/e2e.db", tmp, env=env) as running:
            yield running
        return
    with run_postgres_server(tmp, env=env) as running:
        yield running


class Account:
    def __init__(self, server: RunningServer, email: str, token: str, user_id: str) -> None:
        self.server = server
        self.email = email
        self.token = token
        self.id = user_id
        self.http = server.client(token)

    def inbox(self) -> str:
        lists = self.http.get("/api/v1/lists").json()["items"]
        return str(lists[0]["id"])

    def todo(self, title: str = "todo", **fields: object) -> dict[str, object]:
        r = self.http.post("/api/v1/todos", json={"title": title, **fields})
        assert r.status_code == 201, r.text
        body: dict[str, object] = r.json()
        return body


def sign_up(server: RunningServer) -> Account:
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    with server.client() as anon:
        r = anon.post("/api/v1/auth/register", json={"email": email, "password": "pass-word-12"})
        assert r.status_code == 201, r.text
        t = anon.post("/api/v1/auth/token", json={"email": email, "password": "pass-word-12"})
        assert t.status_code == 200, t.text
    return Account(server, email, t.json()["access_token"], r.json()["id"])


@pytest.fixture
def alice(server: RunningServer) -> Iterator[Account]:
    account = sign_up(server)
    yield account
    account.http.close()


@pytest.fixture
def bob(server: RunningServer) -> Iterator[Account]:
    account = sign_up(server)
    yield account
    account.http.close()


@pytest.fixture
def anon(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict[str, object]]

    def do_POST(self) -> None:
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, object]]]]:
    """A Slack-compatible receiver on 127.0.0.1: its URL, and the JSON bodies posted to it."""
    received: list[dict[str, object]] = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("Webhook", (_Webhook,), {"received": received}))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hooks", received
    httpd.shutdown()
    httpd.server_close()
