"""Storage fixtures: every contract test runs against memory, SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes import FakeClock, SequentialIds
from tests.pg import fresh_schema, run_sync
from todostack.bootstrap import Storage, migrate, open_storage
from todostack.runtime import Settings
from todostack.runtime.settings import DatabaseSettings


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with fresh_schema() as url:
        run_sync(migrate(Settings(database=DatabaseSettings(url=url))))
        yield url


def _settings(url: str) -> Settings:
    return Settings(database=DatabaseSettings(url=url, pool_size=4))


@pytest.fixture(params=["memory", "sqlite", "sqlite-memory", "postgresql"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/contract.db"
        await migrate(_settings(url))
    elif request.param == "sqlite-memory":
        url = "sqlite://:memory:"
    else:
        url = request.getfixturevalue("pg_url")
    store = await open_storage(_settings(url))
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def ids() -> SequentialIds:
    # One sequence for the whole session: the PostgreSQL schema is shared by every test.
    return _SessionIds()


class _SessionIds(SequentialIds):
    """Random prefix per session run, sequential within it: unique across runs, ordered within."""

    def __init__(self) -> None:
        super().__init__()
        self._prefix = uuid.uuid4().int & ~((1 << 64) - 1)

    def __call__(self) -> str:
        base = uuid.UUID(super().__call__()).int & ((1 << 64) - 1)
        return str(uuid.UUID(int=self._prefix | base))
