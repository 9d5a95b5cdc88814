"""The hot routes (``api.hot``) answer exactly as the framework's routes do.

Reads: two apps share one in-memory database and one signing key, one with
``TODOSTACK_HOT_ROUTES`` on (the default), one with it off; every request goes to both, and the
answers must match in status, headers (all but ``date``) and bytes, errors included, and so must
the route label that metrics and the access line carry. Creates: twin apps with databases of their
own get the same sequence of bodies; answers and what each stored must match but for ids and
times. Counters prove the hot app took its own path where it should, and left the rest to
Litestar.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
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
from todostack.delivery.http.asgi.disconnect import IncompleteBody
from todostack.runtime import Settings
from todostack.runtime.groups import SecuritySettings
from todostack.runtime.request_settings import AuthSettings, LimitSettings, RequestSettings
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


def _counting(monkeypatch: pytest.MonkeyPatch, method: str) -> Taken:
    seen = Taken()
    original = getattr(hot.HotRoutes, method)

    async def counting(self: hot.HotRoutes, *args: Any) -> None:
        seen.count += 1
        await original(self, *args)

    monkeypatch.setattr(hot.HotRoutes, method, counting)
    return seen


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> Taken:
    return _counting(monkeypatch, "_one_todo")


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


# --- creating a todo -------------------------------------------------------------------------
# Two apps, each with its own database and its own account, sent the same sequence of creates:
# what each stores and answers must match but for ids and times.

_VARIES = ("id", "list_id", "created_at", "updated_at", "completed_at")  # each app's own ids and times


class Twins:
    def __init__(self, hot_client: TestClient[Any], plain_client: TestClient[Any]) -> None:
        self.clients = (hot_client, plain_client)
        self.auth: list[dict[str, str]] = []
        for client in self.clients:
            creds = {"email": "twin@example.com", "password": "pass-word-12"}
            client.post("/api/v1/auth/register", json=creds)
            token = client.post("/api/v1/auth/token", json=creds).json()["access_token"]
            self.auth.append({"Authorization": f"Bearer {token}"})

    def create(self, body: bytes, headers: dict[str, str] | None = None, *, json_body: bool = True) -> httpx.Response:
        answers = []
        for client, auth in zip(self.clients, self.auth, strict=True):
            sent = {"X-Request-ID": "same-request", **auth, **(headers or {})}
            if json_body:
                sent.setdefault("Content-Type", "application/json")
            answers.append(client.post("/api/v1/todos", content=body, headers=sent))
        a, b = (_comparable(r) for r in answers)
        assert a == b, body[:200]
        return answers[0]

    def stored(self) -> list[Any]:
        pages = [
            c.get("/api/v1/todos?limit=200", headers=auth).json()["items"]
            for c, auth in zip(self.clients, self.auth, strict=True)
        ]
        for page in pages:
            for item in page:
                for key in _VARIES:
                    item[key] = item[key] is not None
        assert pages[0] == pages[1]
        stored: list[Any] = pages[0]
        return stored


def _comparable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], Any]:
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in _SKIP]
    if response.status_code != 201:
        return response.status_code, headers, response.content
    body = response.json()
    todo_id = body["id"]
    headers = [(k, v.replace(todo_id, "{id}")) for k, v in headers]
    for key in _VARIES:
        body[key] = body[key] is not None
    return response.status_code, [(k, v) for k, v in headers if k != "content-length"], body


@contextmanager
def _twins(quota: int) -> Iterator[Twins]:
    small = replace(SETTINGS, limits=LimitSettings(quota_todos=quota))
    off = replace(small, requests=RequestSettings(hot_routes=False))
    with (
        TestClient(create_app(small, storage=_fresh())) as hot_client,
        TestClient(create_app(off, storage=_fresh())) as plain_client,
    ):
        yield Twins(hot_client, plain_client)


@pytest.fixture
def twins() -> Iterator[Twins]:
    with _twins(quota=10_000) as both:
        yield both


def _fresh() -> Storage:
    db = InMemoryDatabase()
    return Storage(db, db.ping, db.close)


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch) -> Taken:
    return _counting(monkeypatch, "_create_todo")


def test_a_plain_create_is_answered_by_the_hot_path_as_the_route_would(twins: Twins, created: Taken) -> None:
    body = b'{"title":"Buy milk","notes":"2 l","tags":["shop","x"],"due":"2030-01-31T09:00:00Z","priority":"high"}'
    got = twins.create(body)
    assert got.status_code == 201
    assert got.headers["location"] == f"/api/v1/todos/{got.json()['id']}"
    assert created.count == 1
    assert twins.create(b'{"title":"done","completed":true,"order":7}').status_code == 201
    assert twins.create(b'{"title":"typed"}', {"Content-Type": "application/merge-patch+json"}).status_code == 201
    assert created.count == 3
    assert [t["title"] for t in twins.stored()] == ["Buy milk", "done", "typed"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "hot_path"),
    [
        (b'{"title":"a","order":3.0}', None, 201, False),  # an integral float: the framework's path
        (b'{"title":"a","completed":"1"}', None, 422, False),
        (b'{"title":"a","colour":"red"}', None, 422, False),
        (b'{"notes":"no title"}', None, 422, False),
        (b'{"title":"   "}', None, 422, False),
        (b'{"title":"a","list_id":"00000000-0000-4000-8000-000000000000"}', None, 404, True),
        (b'{"title":"a",', None, 400, False),
        (b"[" * 100 + b"]" * 100, None, 400, False),
        (b"", None, 422, False),
        (b'{"title":"\xff"}', None, 400, False),
        (b'{"title":"a"}', {"Content-Type": "text/plain"}, 415, False),
        (b'{"title":"a","notes":"' + b"n" * (1 << 20) + b'"}', None, 413, False),
        (b'{"title":"a"}', {"Authorization": "Bearer nope"}, 401, True),
        (b'{"title":"a",', {"Authorization": "Bearer nope"}, 401, False),
        (b'{"title":"a"}', {"Idempotency-Key": "has a space"}, 422, False),
        (b'{"title":"a"}', {"Idempotency-Key": "k" * 256}, 422, False),
    ],
    ids=[
        "integral-float",
        "string-for-bool",
        "unknown-field",
        "no-title",
        "blank-title",
        "no-such-list",
        "not-json",
        "too-deep",
        "empty",
        "not-utf8",
        "not-json-type",
        "too-large",
        "bad-token",
        "bad-token-bad-body",
        "bad-key",
        "long-key",
    ],
)
def test_every_other_create_gets_the_frameworks_answer(
    twins: Twins, created: Taken, body: bytes, headers: dict[str, str] | None, status: int, hot_path: bool
) -> None:
    got = twins.create(body, headers)
    assert got.status_code == status
    if status >= 400:
        assert got.headers["content-type"] == "application/problem+json"
    assert created.count == (1 if hot_path else 0)
    twins.stored()  # what each app stored is the same


def test_a_repeated_idempotency_key_replays_the_same_todo(twins: Twins, created: Taken) -> None:
    first = twins.create(b'{"title":"once"}', {"Idempotency-Key": "key-1"})
    again = twins.create(b'{"title":"once"}', {"Idempotency-Key": "key-1"})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert twins.create(b'{"title":"other"}', {"Idempotency-Key": "key-1"}).status_code == 422
    assert created.count == 3
    assert [t["title"] for t in twins.stored()] == ["once"]


def test_past_the_quota_both_refuse_alike(created: Taken) -> None:
    with _twins(quota=5) as twins:
        for i in range(5):
            assert twins.create(f'{{"title":"t{i}"}}'.encode()).status_code == 201
        refused = twins.create(b'{"title":"one too many"}')
        assert refused.status_code == 403
        assert refused.json()["type"] == "urn:todostack:problem:quota-exceeded"
        assert created.count == 6
        assert len(twins.stored()) == 5


_NIL = "00000000-0000-4000-8000-000000000000"
_FIELDS = ("title", "notes", "completed", "due", "priority", "tags", "order", "list_id", "colour")
_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False)
    | st.sampled_from(
        ["", " ", "a", "low", "2030-01-31T09:00:00Z", "2030-13-01", "00000000-0000-4000-8000-000000000000"]
    )
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=5))
def test_any_body_gets_the_same_answer_and_stores_the_same(twins: Twins, body: dict[str, Any]) -> None:
    twins.create(json.dumps(body).encode())
    twins.stored()


class _Inner:
    """Stands for Litestar: records what it reads of the body."""

    def __init__(self) -> None:
        self.read: list[Any] = []
        self.raised: BaseException | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            while True:
                message = await receive()
                self.read.append(message)
                if not message.get("more_body", False):
                    return
        except Exception as exc:  # noqa: BLE001  # what the app would see
            self.raised = exc


def _scope() -> dict[str, Any]:
    headers = [(b"authorization", b"Bearer t"), (b"content-type", b"application/json")]
    return {"type": "http", "method": "POST", "path": "/api/v1/todos", "headers": headers}


def _client(messages: list[Any]) -> Any:
    async def receive() -> Any:
        message = messages.pop(0)
        if isinstance(message, Exception):
            raise message
        return message

    return receive


async def _unused(_: Any) -> None:
    raise AssertionError("nothing is sent here")


async def test_a_body_handed_on_arrives_whole_and_in_order() -> None:
    inner = _Inner()
    routes = hot.HotRoutes(inner, Any, {}, object, max_body_bytes=10)  # type: ignore[arg-type]
    chunks = [b'{"title":', b'"0123456789"', b"}"]
    messages = [{"type": "http.request", "body": c, "more_body": i < 2} for i, c in enumerate(chunks)]
    await routes(_scope(), _client(list(messages)), _unused)
    assert inner.read == messages  # past the limit after two chunks; the third from the client


async def test_a_body_that_breaks_off_reaches_the_framework_as_it_broke() -> None:
    inner = _Inner()
    routes = hot.HotRoutes(inner, Any, {}, object, max_body_bytes=1000)  # type: ignore[arg-type]
    first = {"type": "http.request", "body": b'{"title":', "more_body": True}
    broken = IncompleteBody(IncompleteBody.detail)
    await routes(_scope(), _client([first, broken]), _unused)
    assert inner.read == [first]
    assert inner.raised is broken


# --- one page of todos -----------------------------------------------------------------------


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> Taken:
    return _counting(monkeypatch, "_list_page")


@pytest.fixture
def pages(pair: tuple[Pair, dict[str, str], str]) -> tuple[Pair, dict[str, str], str, str]:
    """Twelve todos in the first list and three in a second one; returns both lists' ids."""
    both, auth, todo_id = pair
    first = both.hot.get(f"/api/v1/todos/{todo_id}", headers=auth).json()["list_id"]
    second = both.hot.post("/api/v1/lists", json={"name": "Second"}, headers=auth).json()["id"]
    for i in range(11):
        both.hot.post("/api/v1/todos", json={"title": f"todo {i}", "tags": ["t"]}, headers=auth)
    for i in range(3):
        both.hot.post("/api/v1/todos", json={"title": f"other {i}", "list_id": second}, headers=auth)
    return both, auth, first, second


def test_pages_walked_by_their_links_are_answered_by_the_hot_path(
    pages: tuple[Pair, dict[str, str], str, str], listed: Taken
) -> None:
    both, auth, first, second = pages
    seen: list[str] = []
    url: str | None = f"/api/v1/todos?list_id={first}&limit=5"
    while url is not None:
        got = both.same("GET", url, auth)
        assert got.status_code == 200
        seen += [t["title"] for t in got.json()["items"]]
        link = got.headers.get("link")
        url = link[1 : link.index(">")] if link else None
    assert len(seen) == 12
    assert listed.count == 3
    assert len(both.same("GET", "/api/v1/todos", auth).json()["items"]) == 15
    assert len(both.same("GET", f"/api/v1/todos?list_id={second.upper()}", auth).json()["items"]) == 3
    assert listed.count == 5


@pytest.mark.parametrize(
    ("query", "status", "hot_path"),
    [
        ("limit=200", 200, True),
        ("cursor=bm90LWEtY3Vyc29y.c2ln", 422, True),
        ("list_id=00000000-0000-4000-8000-000000000000", 404, True),
        ("limit=0", 422, False),
        ("limit=201", 422, False),
        ("limit=050", 422, False),
        ("limit=abc", 422, False),
        ("limit=5&limit=6", 200, False),
        ("limit=5&", 200, False),
        ("completed=true", 200, False),
        ("tag=t&limit=2", 200, False),
        ("list_id=nope", 422, False),
        ("cursor=a%2Fb", 422, False),
        ("colour=red", 200, False),
    ],
)
def test_every_other_query_gets_the_frameworks_answer(
    pages: tuple[Pair, dict[str, str], str, str], listed: Taken, query: str, status: int, hot_path: bool
) -> None:
    both, auth, *_ = pages
    got = both.same("GET", f"/api/v1/todos?{query}", auth)
    assert got.status_code == status
    assert listed.count == (1 if hot_path else 0)


_QUERY_PART = st.sampled_from(["list_id", "limit", "cursor", "completed", "q", "x", ""]).flatmap(
    lambda name: st.builds(
        lambda value: f"{name}={value}" if name else value,
        st.sampled_from(["", "1", "50", "200", "201", "-1", "true", _NIL, _NIL.upper(), "YWJj.ZGVm", "%41"])
        | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#&"), max_size=12),
    )
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(_QUERY_PART, max_size=4))
def test_any_query_string_gets_the_same_answer(pages: tuple[Pair, dict[str, str], str, str], parts: list[str]) -> None:
    both, auth, *_ = pages
    both.same("GET", "/api/v1/todos?" + "&".join(parts), auth)
