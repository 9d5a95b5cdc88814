"""``TODOSTACK_TRUSTED_PROXIES`` on a real server: a trusted peer's X-Forwarded-* decide the client address (access
log), the scheme (``Secure`` cookie, Todo-Backend URLs) and the host; anyone else's are ignored."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server import RunningServer, run_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PASSWORD = "a proxied passphrase, 2026!"  # long and uncommon: any password policy takes it
SPOOF = {"X-Forwarded-For": "198.51.100.77", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "todo.example.com"}


def _server(tmp: Path, trusted: str) -> Any:
    return run_server(f"sqlite:///{tmp}/todo.db", tmp, env={"TODOSTACK_TRUSTED_PROXIES": trusted})


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Trusts the loopback address this test connects from: it plays the proxy."""
    with _server(tmp_path_factory.mktemp("trusted"), "127.0.0.0/8") as server:
        yield server


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Trusts only a network this test is not in."""
    with _server(tmp_path_factory.mktemp("untrusted"), "10.0.0.0/8") as server:
        yield server


def _access_line(server: RunningServer, request_id: str) -> dict[str, Any]:
    """The access log line of one request (the log is written in batches: wait for it)."""
    deadline = time.monotonic() + 30
    while True:
        for line in server.log.read_text(errors="replace").splitlines():
            if request_id in line and line.startswith("{"):
                record: dict[str, Any] = json.loads(line)
                if record.get("request_id") == request_id:
                    return record
        assert time.monotonic() < deadline, f"no access line for {request_id}"
        time.sleep(0.1)


def _session_cookie(server: RunningServer, headers: dict[str, str]) -> str:
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    with server.client() as http:
        registered = http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        answer = http.post("/api/v1/auth/session", json={"email": email, "password": PASSWORD}, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.headers["set-cookie"]


def test_a_trusted_proxy_names_the_client_in_the_access_log(behind_proxy: RunningServer) -> None:
    request_id = uuid.uuid4().hex
    headers = {"X-Request-ID": request_id, "X-Forwarded-For": "6.6.6.6, 203.0.113.9"}
    with behind_proxy.client() as http:
        assert http.get("/healthz", headers=headers).status_code == 200
    assert _access_line(behind_proxy, request_id)["client"] == "203.0.113.9"


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(exposed: RunningServer) -> None:
    request_id = uuid.uuid4().hex
    with exposed.client() as http:
        assert http.get("/healthz", headers={"X-Request-ID": request_id, **SPOOF}).status_code == 200
    assert _access_line(exposed, request_id)["client"] == "127.0.0.1"


def test_todobackend_urls_follow_a_trusted_proxy_only(behind_proxy: RunningServer, exposed: RunningServer) -> None:
    with behind_proxy.client() as http:
        created = http.post("/todobackend", json={"title": "proxied"}, headers=SPOOF)
        assert created.json()["url"].startswith("https://todo.example.com/todobackend/")
    with exposed.client() as http:
        created = http.post("/todobackend", json={"title": "spoofed"}, headers=SPOOF)
        assert created.json()["url"].startswith(f"{exposed.url}/todobackend/")


def test_the_session_cookie_is_secure_when_the_client_used_https(
    behind_proxy: RunningServer, exposed: RunningServer
) -> None:
    assert "secure" in _session_cookie(behind_proxy, {"X-Forwarded-Proto": "https"}).lower()
    assert "secure" not in _session_cookie(behind_proxy, {"X-Forwarded-Proto": "http"}).lower()
    assert "secure" not in _session_cookie(exposed, {"X-Forwarded-Proto": "https"}).lower()
