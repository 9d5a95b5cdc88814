"""The chaos tier: fixtures for a private PostgreSQL cluster, databases on it, and servers.

Every test here carries the ``chaos`` marker. Without PostgreSQL's server binaries or root the
suite skips loudly; with ``CI=true`` it fails instead.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.chaos.experiment import DatabaseView
from tests.chaos.pgcluster import PrivateCluster, require_tools
from tests.chaos.proxy import FaultProxy
from tests.chaos.sut import Sut, migrate
from tests.pg import in_ci, run_sync

# Short budgets keep each experiment short; the invariants hold at any budget.
SERVER_ENV = {
    "TODOSTACK_READ_TIMEOUT_SECONDS": "2",
    "TODOSTACK_WRITE_TIMEOUT_SECONDS": "3",
    "TODOSTACK_DB_POOL_SIZE": "4",
    "TODOSTACK_DB_ACQUIRE_TIMEOUT_SECONDS": "1",
    "TODOSTACK_SHUTDOWN_DELAY_SECONDS": "0.5",
    "TODOSTACK_SHUTDOWN_GRACE_SECONDS": "3",
    "TODOSTACK_MEMORY_CHECK_SECONDS": "1",
}
WRITE_BUDGET = 3.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.chaos)


def need_root() -> None:
    if os.geteuid() != 0:
        if in_ci():
            pytest.fail("CI=true: the chaos suite needs root (private clusters, tmpfs, cgroups)", pytrace=False)
        pytest.skip("SKIPPING chaos: needs root (private PostgreSQL as user postgres, tmpfs, cgroups)")


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    need_root()
    tools = require_tools()
    if tools is None:
        pytest.skip("SKIPPING chaos: no PostgreSQL server binaries (initdb, pg_ctl)")
    # Straight under /tmp: user postgres cannot enter pytest's root-only temp folders.
    private = PrivateCluster(Path(tempfile.mkdtemp(prefix="todostack-chaos-pg-")), bin_dir=tools)
    private.init()
    private.start()
    try:
        # Migrated once (through the CLI); each experiment's database is a copy of it.
        private.execute("CREATE DATABASE chaos_template")
        migrate(private.url("chaos_template"))
        yield private
    finally:
        private.destroy()


def _fresh_database(cluster: PrivateCluster) -> str:
    cluster.resume()
    if not cluster.running():
        cluster.start()
    name = f"chaos_{uuid.uuid4().hex[:10]}"
    cluster.execute(f"CREATE DATABASE {name} TEMPLATE chaos_template")
    return cluster.url(name)


@pytest.fixture
def pg_url(cluster: PrivateCluster) -> str:
    """A fresh, migrated database on the private cluster (started again if a test left it down)."""
    return _fresh_database(cluster)


@dataclass
class PgService:
    """One server for the PostgreSQL experiments, its database link through the fault proxy (a
    healed proxy passes everything through). Sharing it is part of the point: each experiment
    starts from whatever the one before left, and must find it ready."""

    sut: Sut
    proxy: FaultProxy
    pg_url: str  # direct, for reading the database behind the service's back


# Module-scoped: the experiments share it, and it stops (with its proxy thread) once they are done;
# kept for the session, its server and the proxy's pumping ran beside every later test.
@pytest.fixture(scope="module")
def shared_pg_service(cluster: PrivateCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgService]:
    direct = _fresh_database(cluster)
    with FaultProxy("127.0.0.1", cluster.port) as proxy:
        through_proxy = direct.replace(f"127.0.0.1:{cluster.port}/", f"127.0.0.1:{proxy.port}/")
        sut = Sut(through_proxy, tmp_path_factory.mktemp("pg-service"), env=SERVER_ENV)
        sut.start()
        try:
            yield PgService(sut, proxy, direct)
        finally:
            sut.stop()


@pytest.fixture
def pg_service(shared_pg_service: PgService, cluster: PrivateCluster) -> PgService:
    """The shared server, with its database up, its link healed, and ready."""
    cluster.resume()
    if not cluster.running():
        cluster.start()
    shared_pg_service.proxy.heal()
    shared_pg_service.sut.wait_ready(30)
    return shared_pg_service


def pg_view(url: str) -> DatabaseView:
    def view(keys: list[str]) -> dict[str, list[str]]:
        async def query() -> dict[str, list[str]]:
            conn = await asyncpg.connect(url, timeout=10)
            try:
                rows = await conn.fetch(
                    "SELECT title, array_agg(id::text) AS ids FROM todos WHERE title = ANY($1) GROUP BY title", keys
                )
            finally:
                await conn.close()
            return {r["title"]: list(r["ids"]) for r in rows}

        return run_sync(query())

    return view


def sqlite_view(path: Path) -> DatabaseView:
    def view(keys: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            wanted = set(keys)
            for title, todo_id in conn.execute("SELECT title, id FROM todos"):
                if title in wanted:
                    found.setdefault(title, []).append(str(todo_id))
        return found

    return view


@pytest.fixture
def make_sut(tmp_path: Path) -> Iterator[Callable[..., Sut]]:
    made: list[Sut] = []

    def make(database_url: str, env: Mapping[str, str] | None = None, **kwargs: object) -> Sut:
        sut = Sut(database_url, tmp_path / f"sut-{len(made)}", env={**SERVER_ENV, **(env or {})}, **kwargs)  # type: ignore[arg-type]
        made.append(sut)
        return sut

    yield make
    for sut in made:
        sut.stop()
