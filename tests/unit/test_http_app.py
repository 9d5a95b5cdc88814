"""The HTTP layer in-process (Litestar's test client), for answers a real server cannot be made to give."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from todostack.adapters.memory import InMemoryDatabase
from todostack.bootstrap import Storage, create_app
from todostack.runtime import Settings
from todostack.runtime.settings import DatabaseSettings, SecuritySettings
from todostack.usecases import TodoService

SETTINGS = Settings(
    database=DatabaseSettings(url="memory://"),
    security=SecuritySettings(argon2_time_cost=1, argon2_memory_kib=1024),
)


class _Unreachable(Exception):
    pass


def _storage(*, ping_fails: bool = False) -> Storage:
    db = InMemoryDatabase()

    async def ping() -> None:
        if ping_fails:
            raise _Unreachable("connection refused")

    return Storage(db, ping, db.close)


@pytest.fixture
def client() -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(create_app(SETTINGS, storage=_storage())) as c:
        yield c


def test_readyz_is_503_when_the_database_does_not_answer() -> None:
    with TestClient(create_app(SETTINGS, storage=_storage(ping_fails=True))) as c:
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "refused" not in r.text
        assert c.get("/healthz").status_code == 200


def test_an_unexpected_error_is_a_500_that_leaks_nothing(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    async def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret connection string postgresql://admin:hunter2@db")

    client.post("/api/v1/auth/register", json={"email": "a@example.com", "password": "pass-word-12"})
    token = client.post("/api/v1/auth/token", json={"email": "a@example.com", "password": "pass-word-12"}).json()
    monkeypatch.setattr(TodoService, "search", explode)
    r = client.get("/api/v1/todos", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "hunter2" not in r.text
    assert "RuntimeError" not in r.text
    assert r.json()["detail"] == "the server failed to handle this request; it has been logged"


def test_tokens_from_another_secret_are_refused(client: TestClient) -> None:  # type: ignore[type-arg]
    from datetime import UTC, datetime, timedelta

    from todostack.adapters.tokens import HmacTokenCodec
    from todostack.usecases.ports import TokenClaims

    now = datetime.now(UTC)
    forged = HmacTokenCodec("another secret entirely, 32 chars+").issue(
        TokenClaims("someone", "a-session", int(now.timestamp()), int((now + timedelta(1)).timestamp()))
    )
    r = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


def test_response_headers_are_set_by_path_and_content_type() -> None:
    from todostack.delivery.http.app import _decorator

    decorate = _decorator(todobackend=True)
    json_answer = [(b"content-type", b"application/json"), (b"x-request-id", b"r")]
    # API answers depend on who asks (token or cookie) and, for cookie writes, from where.
    assert decorate("/api/v1/todos", list(json_answer)) == [*json_answer, (b"vary", b"Authorization, Cookie, Origin")]
    html = decorate("/", [(b"Content-Type", b"text/html; charset=utf-8"), (b"content-security-policy", b"old")])
    names = [name for name, _ in html]
    assert names.count(b"content-security-policy") == 1  # replaced, not sent twice
    assert dict(html)[b"x-frame-options"] == b"DENY"
    assert dict(html)[b"content-security-policy"] != b"old"
    problem = decorate("/todobackend/missing", [(b"content-type", b"application/problem+json")])
    assert dict(problem)[b"access-control-allow-origin"] == b"*"
    assert b"x-frame-options" not in dict(problem)
    assert _decorator(todobackend=False)("/todobackend/x", []) == []
