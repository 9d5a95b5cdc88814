"""Outages as clients see them: 503 + Retry-After (cause ``database_unavailable``), 507 for a
full disk, ``"outcome": "unknown"`` on a write cut off mid-way, and a /readyz that answers
in time whatever the database does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from todostack.adapters.memory import InMemoryDatabase
from todostack.bootstrap import Storage, create_app
from todostack.context import DeadlineExceeded, StorageFull, Unavailable
from todostack.runtime import Settings
from todostack.runtime.settings import DatabaseSettings, SecuritySettings
from todostack.usecases import TodoService

SETTINGS = Settings(
    database=DatabaseSettings(url="memory://"),
    security=SecuritySettings(argon2_time_cost=1, argon2_memory_kib=1024),
)


@pytest.fixture
def signed_in() -> Iterator[tuple[TestClient, dict[str, str]]]:  # type: ignore[type-arg]
    db = InMemoryDatabase()
    with TestClient(create_app(SETTINGS, storage=Storage(db, db.ping, db.close))) as client:
        body = {"email": "outage@example.com", "password": "pass-word-12"}
        client.post("/api/v1/auth/register", json=body)
        token = client.post("/api/v1/auth/token", json=body).json()["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("error", "status", "cause", "retry_after", "outcome"),
    [
        (
            Unavailable("the database is unavailable: it cannot be reached; retry shortly"),
            503,
            "database_unavailable",
            "1",
            "unknown",
        ),
        (
            StorageFull("the database's disk is full: this write was not kept; retry later"),
            507,
            "storage_full",
            "5",
            None,
        ),
        (DeadlineExceeded("the request ran out of time while committing"), 504, "deadline_exceeded", None, "unknown"),
    ],
)
def test_a_write_that_meets_an_outage_gets_a_problem_never_a_500(
    signed_in: tuple[TestClient, dict[str, str]],  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    status: int,
    cause: str,
    retry_after: str | None,
    outcome: str | None,
) -> None:
    client, auth = signed_in

    async def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(TodoService, "create", fail)
    r = client.post("/api/v1/todos", json={"title": "t"}, headers=auth)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers.get("retry-after") == retry_after
    problem = r.json()
    assert problem["cause"] == cause
    assert problem.get("outcome") == outcome


def test_a_read_that_meets_an_outage_is_503_without_an_outcome(
    signed_in: tuple[TestClient, dict[str, str]],  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, auth = signed_in

    async def fail(*args: object, **kwargs: object) -> None:
        raise Unavailable("the database is unavailable: no connection slot is free; retry shortly")

    monkeypatch.setattr(TodoService, "search", fail)
    r = client.get("/api/v1/todos", headers=auth)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.json()["cause"] == "database_unavailable"
    assert "outcome" not in r.json()


def test_readyz_gives_up_on_a_hung_database_within_a_second() -> None:
    db = InMemoryDatabase()

    async def hang() -> None:
        await asyncio.sleep(3600)

    with TestClient(create_app(SETTINGS, storage=Storage(db, hang, db.close)), timeout=10) as client:
        r = client.get("/readyz")
    assert r.status_code == 503
    assert r.elapsed.total_seconds() < 5  # bounded: a hung ping used to hold the probe
