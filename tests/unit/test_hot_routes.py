"""The hot route (``api.hot``) answers exactly as the framework's route does.

Two apps share one in-memory database and one signing key: one with ``TODOSTACK_HOT_ROUTES`` on
(the default), one with it off. Every request is sent to both, and the answers must match in
status, headers (but the request id) and bytes, errors included; the route label that metrics
and the access line carry must match too. A spy proves the hot app really took its own path
where it should, and left the rest to Litestar.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from todostack.adapters.memory import InMemoryDatabase
from todostack.bootstrap import Storage, create_app
from todostack.context import DeadlineExceeded, Unavailable
from todostack.delivery.http.api import hot
from todostack.runtime import Settings
from todostack.runtime.groups import SecuritySettings
from todostack.runtime.request_settings import AuthSettings, RequestSettings
from todostack.runtime.settings import DatabaseSettings
from todostack.usecases import TodoService

pytestmark = pytest.mark.unit

SETTINGS = Settings(
    database=DatabaseSettings(url="memory://"),
    security=SecuritySettings(secret_key="k" * 40, argon2_time_cost=1, argon2_memory_kib=1024),
    auth=AuthSettings(session_check_seconds=0),  # two apps, like two workers: each looks every time
)
_SKIP = {"date"}


class Pair:
    """The same request to the hot app and to the framework-only app."""

    def __init__(self, hot_client: TestClient[Any], plain_client: TestClient[Any]) -> None:
        self.hot = hot_client
        self.plain = plain_client

    def same(self, method: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        headers = {"X-Request-ID": "same-request", **(headers or {})}  # problem bodies carry it
        a = self.hot.request(method, path, headers=headers)
        b = self.plain.request(method, path, headers=headers)
        assert (a.status_code, _headers(a), a.content) == (b.status_code, _headers(b), b.content), (method, path)
        return a


def _headers(response: httpx.Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response.headers.multi_items() if k not in _SKIP]


class Taken:
    """How many requests the hot path answered itself."""

    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> Taken:
    seen = Taken()
    original = hot.HotRoutes._one_todo

    async def counting(self: hot.HotRoutes, *args: Any) -> None:
        seen.count += 1
        await original(self, *args)

    monkeypatch.setattr(hot.HotRoutes, "_one_todo", counting)
    return seen


@pytest.fixture
def pair() -> Iterator[tuple[Pair, dict[str, str], str]]:
    db = InMemoryDatabase()
    storage = Storage(db, db.ping, db.close)
    off = replace(SETTINGS, requests=RequestSettings(hot_routes=False))
    with (
        TestClient(create_app(SETTINGS, storage=storage)) as hot_client,
        TestClient(create_app(off, storage=storage)) as plain_client,
    ):
        creds = {"email": "hot@example.com", "password": "pass-word-12"}
        hot_client.post("/api/v1/auth/register", json=creds)
        token = hot_client.post("/api/v1/auth/token", json=creds).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        body = {"title": "read me", "notes": "n" * 3000, "tags": ["a", "b"], "due": "2030-01-31T09:00:00Z"}
        todo_id = hot_client.post("/api/v1/todos", json=body, headers=auth).json()["id"]
        yield Pair(hot_client, plain_client), auth, todo_id


def test_a_plain_read_is_answered_by_the_hot_path_with_the_same_bytes(
    pair: tuple[Pair, dict[str, str], str], taken: Taken
) -> None:
    both, auth, todo_id = pair
    got = both.same("GET", f"/api/v1/todos/{todo_id}", auth)
    assert got.status_code == 200
    assert got.json()["title"] == "read me"
    assert got.headers["etag"] == '"1"'
    assert taken.count == 1
    both.same("HEAD", f"/api/v1/todos/{todo_id}", auth)
    zipped = both.same("GET", f"/api/v1/todos/{todo_id}", {**auth, "Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert taken.count == 3


@pytest.mark.parametrize(
    ("path", "headers", "status", "hot_path"),
    [
        ("/api/v1/todos/00000000-0000-4000-8000-000000000000", None, 404, True),
        ("/api/v1/todos/not-an-id", None, 404, True),
        ("/api/v1/todos/{id}", {"Authorization": "Bearer not.a.token"}, 401, True),
        ("/api/v1/todos/{id}", {"Authorization": "Basic abc"}, 401, False),
        ("/api/v1/todos/{id}", {"Authorization": "Bearer "}, 401, False),
        ("/api/v1/todos/{id}", {"Authorization": ""}, 401, False),
        ("/api/v1/todos/{id}", {"If-None-Match": '"1"'}, 304, False),
        ("/api/v1/todos/{id}", {"If-None-Match": '"7"'}, 200, False),
        ("/api/v1/todos/{id}/", None, 200, False),
        ("/api/v1/todos/{id}?fields=title", None, 200, True),
        ("/api/v1/todos/{id}", {"Request-Timeout": "abc"}, 400, False),
    ],
    ids=[
        "missing",
        "not-an-id",
        "bad-token",
        "basic",
        "empty-bearer",
        "empty-authorization",
        "not-modified",
        "modified",
        "trailing-slash",
        "query",
        "bad-timeout",
    ],
)
def test_every_other_answer_is_the_frameworks_own(
    pair: tuple[Pair, dict[str, str], str],
    taken: Taken,
    path: str,
    headers: dict[str, str] | None,
    status: int,
    hot_path: bool,
) -> None:
    both, auth, todo_id = pair
    got = both.same("GET", path.replace("{id}", todo_id), {**auth, **(headers or {})})
    assert got.status_code == status
    if status >= 400:
        assert got.headers["content-type"] == "application/problem+json"
    assert taken.count == (1 if hot_path else 0)


def test_someone_elses_todo_and_a_revoked_token_answer_alike(pair: tuple[Pair, dict[str, str], str]) -> None:
    both, _, todo_id = pair
    creds = {"email": "other@example.com", "password": "pass-word-12"}
    both.hot.post("/api/v1/auth/register", json=creds)
    other = {"Authorization": "Bearer " + both.hot.post("/api/v1/auth/token", json=creds).json()["access_token"]}
    assert both.same("GET", f"/api/v1/todos/{todo_id}", other).status_code == 404
    assert both.hot.delete("/api/v1/auth/token", headers=other).status_code < 300
    revoked = both.same("GET", f"/api/v1/todos/{todo_id}", other)
    assert revoked.status_code == 401
    assert revoked.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (Unavailable("the database is unavailable: it cannot be reached; retry shortly"), 503),
        (DeadlineExceeded("the request ran out of time"), 504),
        (RuntimeError("a bug"), 500),
    ],
    ids=["unavailable", "deadline", "unexpected"],
)
def test_faults_are_answered_by_the_apps_own_handlers(
    pair: tuple[Pair, dict[str, str], str], monkeypatch: pytest.MonkeyPatch, error: Exception, status: int
) -> None:
    both, auth, todo_id = pair

    async def failing(*_: object) -> None:
        raise error

    monkeypatch.setattr(TodoService, "get", failing)
    got = both.same("GET", f"/api/v1/todos/{todo_id}", auth)
    assert got.status_code == status
    assert got.json()["status"] == status


def test_metrics_and_access_lines_name_the_same_route(pair: tuple[Pair, dict[str, str], str]) -> None:
    both, auth, todo_id = pair
    for _ in range(3):
        both.same("GET", f"/api/v1/todos/{todo_id}", auth)

    def series(client: TestClient[Any]) -> list[str]:
        text = client.app.state["metrics"].exposition().decode()
        return [
            line.rsplit(" ", 1)[0]
            for line in text.splitlines()
            if line.startswith("todostack_http_requests_total{") and 'method="GET"' in line and "todos/{" in line
        ]

    assert series(both.hot) == series(both.plain)
    one_todo = 'todostack_http_requests_total{method="GET",route="/api/v1/todos/{todo_id}",status="200"}'
    assert series(both.hot) == [one_todo]


_SEGMENT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"), min_size=1)
_TOKEN = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segment=_SEGMENT, token=_TOKEN)
def test_any_id_and_any_authorization_get_the_same_answer(
    pair: tuple[Pair, dict[str, str], str], segment: str, token: str
) -> None:
    both, auth, _ = pair
    both.same("GET", f"/api/v1/todos/{segment}", auth)
    both.same("GET", f"/api/v1/todos/{segment}", {"Authorization": token})
    both.same("GET", f"/api/v1/todos/{segment}", {"Authorization": f"Bearer {token}"})
