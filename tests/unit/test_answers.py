"""What every answer carries (security and caching headers, gzip), HEAD, and bodies that stall
or break off: in-process, through the whole app."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.asgi import Client, serving
from todostack.bootstrap import create_app
from todostack.delivery.http.asgi.answers import Compression, accepts_gzip, add_vary, finish_headers
from todostack.runtime import Settings
from todostack.runtime.settings import DatabaseSettings, RequestSettings, SecuritySettings

pytestmark = pytest.mark.unit

SETTINGS = Settings(
    database=DatabaseSettings(url="memory://"),
    security=SecuritySettings(argon2_time_cost=1, argon2_memory_kib=1024),
    requests=RequestSettings(read_timeout_seconds=5.0, write_timeout_seconds=5.0),
)
PASSWORD = "a long and unusual passphrase 42"
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    app = await asyncio.to_thread(create_app, SETTINGS)
    async with serving(app) as http:
        http.headers.update(IDENTITY)
        yield http


async def _sign_in(client: Client, email: str = "ada@example.com") -> dict[str, str]:
    r = await client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    t = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {t.json()['access_token']}"}


# -- the header rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "https", "cache_control"),
    [
        ([], False, b"no-store"),
        ([(b"etag", b'"3"')], False, b"private, no-cache"),
        ([(b"cache-control", b"public, max-age=60")], True, b"public, max-age=60"),
    ],
    ids=["plain", "with-etag", "route-set"],
)
def test_finish_headers(given: list[tuple[bytes, bytes]], https: bool, cache_control: bytes) -> None:
    headers = dict(finish_headers(list(given), https))
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert headers[b"cache-control"] == cache_control
    assert (b"strict-transport-security" in headers) is https


def test_vary_is_one_header_without_repeats() -> None:
    headers = add_vary([(b"vary", b"Origin")], b"Accept-Encoding, origin")
    assert headers == [(b"vary", b"Origin, Accept-Encoding")]
    assert add_vary([], b"Authorization") == [(b"vary", b"Authorization")]


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("identity", False),
        ("*", True),
        ("*;q=0", False),
        ("gzip;q=0, *", False),
        ("gzip;q=nonsense", False),
        ("GZIP ; q=1", True),
        ("x-gzip", True),
        ("gzipped", False),
    ],
)
def test_accept_encoding(value: str, accepted: bool) -> None:
    assert accepts_gzip(value.encode()) is accepted


@pytest.mark.parametrize(
    ("status", "headers", "eligible"),
    [
        (200, [(b"content-type", b"application/json"), (b"content-length", b"5000")], True),
        (200, [(b"content-type", b"application/vnd.oai.openapi+json")], True),
        (200, [(b"content-type", b"text/css; charset=utf-8"), (b"content-length", b"5000")], True),
        (200, [(b"content-type", b"application/json"), (b"content-length", b"100")], False),
        (200, [(b"content-type", b"image/png"), (b"content-length", b"5000")], False),
        (200, [(b"content-type", b"text/event-stream")], False),
        (200, [(b"content-type", b"application/json"), (b"content-encoding", b"br")], False),
        (304, [(b"content-type", b"application/json")], False),
    ],
    ids=["json", "+json", "css", "small", "png", "event-stream", "already-encoded", "not-modified"],
)
def test_what_may_be_compressed(status: int, headers: list[tuple[bytes, bytes]], eligible: bool) -> None:
    assert Compression(min_bytes=1024).eligible(status, headers) is eligible
    assert Compression(min_bytes=0).eligible(status, headers) is False  # 0: never


# -- through the app -------------------------------------------------------------------------


async def test_every_answer_carries_nosniff_and_cache_control(client: Client) -> None:
    auth = await _sign_in(client)
    answers = [
        await client.get("/healthz"),
        await client.get("/api/v1/todos", headers=auth),
        await client.get("/api/v1/todos"),  # 401
        await client.get("/no/such/route"),  # 404, before any route
        await client.post("/api/v1/todos", content=b"[" * 100, headers={**auth, "Content-Type": "application/json"}),
        await client.get("/"),
    ]
    for r in answers:
        assert r.headers["x-content-type-options"] == "nosniff", r.request.url
        assert r.headers["cache-control"], r.request.url
        assert "strict-transport-security" not in r.headers
    assert answers[1].headers["cache-control"] == "no-store"
    assert {"Authorization", "Cookie", "Origin"} <= {v.strip() for v in answers[1].headers["vary"].split(",")}


async def test_one_todo_may_be_revalidated_by_its_owner_only(client: Client) -> None:
    auth = await _sign_in(client)
    todo = (await client.post("/api/v1/todos", json={"title": "x"}, headers=auth)).json()
    r = await client.get(f"/api/v1/todos/{todo['id']}", headers=auth)
    assert r.headers["cache-control"] == "private, no-cache"
    assert "Authorization" in r.headers["vary"]


async def test_hsts_only_over_tls(client: Client) -> None:
    transport = httpx.ASGITransport(app=client.app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as tls:
        r = await tls.get("/healthz")
    assert r.headers["strict-transport-security"].startswith("max-age=")


async def test_large_json_is_gzipped_when_asked(client: Client) -> None:
    auth = await _sign_in(client)
    for i in range(30):
        await client.post("/api/v1/todos", json={"title": f"todo number {i}", "notes": "n" * 40}, headers=auth)
    plain = await client.get("/api/v1/todos", headers=auth)
    packed = await client.get("/api/v1/todos", headers={**auth, "Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < int(plain.headers["content-length"]) / 3
    assert packed.json() == plain.json()  # httpx undoes the gzip
    for r in (plain, packed):
        assert "Accept-Encoding" in r.headers["vary"]
    small = await client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


async def test_the_openapi_document_is_compressed_once(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """/api/openapi.json answers with the bytes it built once: their gzip is kept, not redone per request."""
    made: list[int] = []
    real = zlib.compressobj

    def counting(*args: Any) -> Any:
        made.append(1)
        return real(*args)

    monkeypatch.setattr(zlib, "compressobj", counting)
    gzip = {"Accept-Encoding": "gzip"}
    first = await client.get("/api/openapi.json", headers=gzip)
    second = await client.get("/api/openapi.json", headers=gzip)
    assert first.headers["content-encoding"] == second.headers["content-encoding"] == "gzip"
    assert first.content == second.content
    assert first.json()["openapi"].startswith("3.")
    assert len(made) == 1
    # Another body is compressed afresh (not answered with the kept gzip), and the document after it once more.
    auth = await _sign_in(client)
    for i in range(30):
        await client.post("/api/v1/todos", json={"title": f"todo number {i}", "notes": "n" * 40}, headers=auth)
    todos = await client.get("/api/v1/todos", headers={**gzip, **auth})
    assert todos.headers["content-encoding"] == "gzip"
    assert len(todos.json()["items"]) == 30
    third = await client.get("/api/openapi.json", headers=gzip)
    assert third.content == first.content
    assert len(made) == 3


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/todos", "/api/openapi.json", "/", "/api/v1/nothing"])
async def test_head_answers_like_get_without_a_body(client: Client, path: str) -> None:
    auth = await _sign_in(client, f"{abs(hash(path))}@example.com")
    for encoding in ("identity", "gzip"):
        headers = {**auth, "Accept-Encoding": encoding}
        got = await client.get(path, headers=headers)
        head = await client.head(path, headers=headers)
        assert head.status_code == got.status_code
        assert head.content == b""

        def same(r: httpx.Response) -> dict[str, str]:
            return {k: v for k, v in r.headers.items() if k not in ("x-request-id", "date")}

        assert same(head) == same(got)


async def test_head_on_a_route_without_get_is_405(client: Client) -> None:
    r = await client.head("/api/v1/auth/token")
    assert r.status_code == 405


# -- bodies that break off or stall -----------------------------------------------------------


async def _call(app: Any, scope_extra: dict[str, Any], messages: list[dict[str, Any]]) -> tuple[int, bytes]:
    """Call the ASGI app directly: ``receive`` hands out ``messages`` then waits forever."""
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/auth/register",
        "raw_path": b"/api/v1/auth/register",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
        **scope_extra,
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


async def test_a_body_cut_off_mid_way_is_a_400(client: Client) -> None:
    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    status, body = await _call(
        client.app,
        {"headers": headers},
        [{"type": "http.request", "body": b'{"email": "a', "more_body": True}, {"type": "http.disconnect"}],
    )
    assert status == 400
    assert b"framing" in body


async def test_a_client_that_stalls_mid_body_gets_408(client: Client) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"100"), (b"request-timeout", b"0.5")]
    status, body = await _call(
        client.app, {"headers": headers}, [{"type": "http.request", "body": b'{"email": "a', "more_body": True}]
    )
    assert status == 408
    assert b"request-timeout" in body


def test_a_deadline_that_finds_the_worker_stalled_is_a_504_not_the_clients_408() -> None:
    # A sync test with a loop of its own: it stalls that loop on purpose, as the kernel stalls a
    # worker in memory reclaim, and the blocked-loop check would rightly fail an async test for it.
    headers = [(b"content-type", b"application/json"), (b"content-length", b"100"), (b"request-timeout", b"0.3")]

    async def main() -> tuple[int, bytes]:
        app = create_app(SETTINGS)
        async with serving(app):
            loop = asyncio.get_running_loop()
            loop.call_later(0.2, time.sleep, 0.9)  # the worker does not run from 0.2 s to 1.1 s
            return await _call(
                app, {"headers": headers}, [{"type": "http.request", "body": b'{"email": "a', "more_body": True}]
            )

    status, body = asyncio.run(main())
    assert status == 504, body
    assert b"deadline_exceeded" in body
