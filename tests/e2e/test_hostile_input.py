"""Shapes that were 500s before (issue 18), against a real server on SQLite and PostgreSQL:
each is now a clear problem+json, and none leaves a traceback in the log."""

from __future__ import annotations

import base64
import json
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import Account
from tests.server import RunningServer

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}
EARLIEST_PLUS_14 = "0001-01-01T00:00:00+14:00"
LATEST_MINUS_14 = "9999-12-31T23:59:59-14:00"
DEEP = b"[" * 5000 + b"]" * 5000


def _problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/auth/register"),
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/todos"),
        ("PUT", "/api/v1/todos/00000000-0000-0000-0000-000000000000"),
        ("POST", "/api/v1/lists"),
        ("POST", "/todobackend"),
    ],
    ids=["register", "token", "create-todo", "replace-todo", "create-list", "todobackend"],
)
@pytest.mark.parametrize("shape", [DEEP, b'{"title": ' + b"[" * 600 + b"]" * 600 + b"}"], ids=["array", "in-object"])
def test_deep_json_is_a_400_and_logs_no_traceback(
    server: RunningServer, alice: Account, method: str, path: str, shape: bytes
) -> None:
    before = server.log.stat().st_size
    body = _problem(alice.http.request(method, path, content=shape, headers=JSON), 400)
    assert "nests deeper" in str(body["detail"])
    time.sleep(0.2)  # the access log line is written after the answer
    assert server.log.stat().st_size - before < 4096  # one access line, not ~190 KiB of traceback


@pytest.mark.parametrize("due", [EARLIEST_PLUS_14, LATEST_MINUS_14], ids=["year-1-east", "year-9999-west"])
def test_due_dates_at_the_calendars_edges_are_a_422(alice: Account, due: str) -> None:
    body = _problem(alice.http.post("/api/v1/todos", json={"title": "edge", "due": due}), 422)
    assert body["errors"] == [{"field": "due", "message": "must fall within the years 0001-9999 once converted to UTC"}]
    todo = alice.todo("edge")
    _problem(alice.http.patch(f"/api/v1/todos/{todo['id']}", json={"due": due}), 422)
    _problem(alice.http.put(f"/api/v1/todos/{todo['id']}", json={"title": "edge", "due": due}), 422)
    for name in ("due_before", "due_after"):
        problem = _problem(alice.http.get("/api/v1/todos", params={name: due}), 422)
        assert [e["field"] for e in problem["errors"]] == [name]


def test_date_times_just_inside_the_edges_are_kept(alice: Account) -> None:
    todo = alice.todo("far", due="9999-12-31T23:59:59Z")
    assert todo["due"] == "9999-12-31T23:59:59Z"
    r = alice.http.get("/api/v1/todos", params={"due_after": "0001-01-01T00:00:00Z"})
    assert r.status_code == 200, r.text


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("key", [2**63, 2**64 + 5, -(2**63) - 1], ids=["2^63", "2^64", "below-int64"])
def test_cursor_sort_keys_beyond_64_bits_are_a_422(alice: Account, key: int) -> None:
    # The shape that was a 500 on both databases: an unsigned cursor with a huge key.
    cursor = _b64(json.dumps(["order", False, key, str(uuid.uuid4())]).encode())
    body = _problem(alice.http.get("/api/v1/todos", params={"cursor": cursor}), 422)
    assert [e["field"] for e in body["errors"]] == ["cursor"]


def test_a_tampered_cursor_is_refused_and_a_real_one_works(alice: Account) -> None:
    for i in range(3):
        alice.todo(f"page {i}")
    first = alice.http.get("/api/v1/todos", params={"limit": 1}).json()
    cursor = first["next"]
    assert cursor
    assert alice.http.get("/api/v1/todos", params={"limit": 1, "cursor": cursor}).status_code == 200
    payload, _, signature = cursor.partition(".")
    sort, desc, _key, todo_id = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    altered = _b64(json.dumps([sort, desc, 2**63, todo_id], separators=(",", ":")).encode())
    body = _problem(alice.http.get("/api/v1/todos", params={"cursor": f"{altered}.{signature}"}), 422)
    assert "altered" in json.dumps(body["errors"])


def _raw(server: RunningServer, data: bytes, *, timeout: float = 30.0) -> bytes:
    """Send bytes on a fresh connection; what comes back until the server answers and closes or idles."""
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=timeout) as s:
        s.sendall(data)
        answer = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            answer += chunk
            head, sep, rest = answer.partition(b"\r\n\r\n")
            if sep and b"content-length:" in head.lower():
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(rest) >= length:
                    break
        return answer


@pytest.mark.parametrize(
    "chunks",
    [b"zz\r\n{}\r\n0\r\n\r\n", b"5\r\n{}\r\n0\r\n\r\n", b'4\r\n{"em\r\n-1\r\n'],
    ids=["size-not-hex", "size-longer-than-data", "negative-size"],
)
def test_malformed_chunked_framing_is_a_400(server: RunningServer, chunks: bytes) -> None:
    head = (
        b"POST /api/v1/auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    answer = _raw(server, head + chunks)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]


def test_a_client_that_stalls_mid_body_gets_408(server: RunningServer) -> None:
    head = (
        b"POST /api/v1/auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: 200\r\nRequest-Timeout: 1\r\n\r\n"
    )
    answer = _raw(server, head + b'{"email": "slow')
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
    assert PROBLEM.encode() in answer


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/api/v1/todos", "/api/v1/lists", "/api/openapi.json", "/"])
def test_head_is_served_on_get_routes(alice: Account, path: str) -> None:
    got = alice.http.get(path)
    head = alice.http.head(path)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers.get("content-length") == got.headers.get("content-length")


def test_security_and_caching_headers(alice: Account, anon: httpx.Client) -> None:
    todo = alice.todo("cached?")
    for r in (
        alice.http.get("/api/v1/todos"),
        alice.http.get(f"/api/v1/todos/{todo['id']}"),
        anon.get("/api/v1/todos"),
        anon.get("/nowhere"),
        anon.get("/healthz"),
    ):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] in ("no-store", "private, no-cache")
    listing = alice.http.get("/api/v1/todos")
    assert "Authorization" in listing.headers["vary"]
    assert "strict-transport-security" not in listing.headers  # plain HTTP here


def test_json_is_gzipped_when_the_client_asks(alice: Account) -> None:
    for i in range(20):
        alice.todo(f"compressible todo {i}", notes="the same words again " * 4)
    plain = alice.http.get("/api/v1/todos", headers={"Accept-Encoding": "identity"})
    packed = alice.http.get("/api/v1/todos", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < int(plain.headers["content-length"])
    assert packed.json() == plain.json()
