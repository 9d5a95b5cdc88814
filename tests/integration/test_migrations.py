"""Migrations: applied once, checksummed, safe with two migrators, required before serving."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.pg import fresh_schema, fresh_schema_async
from todostack.adapters.migrations import Migration, MigrationError, check_applied, load_migrations
from todostack.bootstrap import migrate, pending_migrations
from todostack.runtime import Settings
from todostack.runtime.settings import DatabaseSettings


def _settings(url: str) -> Settings:
    return Settings(database=DatabaseSettings(url=url))


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
def test_shipped_migrations_are_numbered_from_one(dialect: str) -> None:
    # Numbers are blocks reserved per line of work (0010s, 0020s, …) so that branches merge
    # without renumbering: gaps are fine, repeats are not.
    versions = [m.version for m in load_migrations(dialect)]
    assert versions[0] == 1
    assert versions == sorted(set(versions))


@pytest.mark.parametrize(
    ("applied", "problem"),
    [
        ({1: "0" * 64}, "changed after it was applied"),
        ({99: "x"}, "does not know"),
    ],
    ids=["edited", "from-the-future"],
)
def test_history_that_does_not_match_is_refused(applied: dict[int, str], problem: str) -> None:
    shipped = [Migration(1, "init", "CREATE TABLE t (x int);")]
    with pytest.raises(MigrationError, match=problem):
        check_applied(shipped, applied)


async def test_sqlite_migrates_once(tmp_path: Path) -> None:
    settings = _settings(f"sqlite:///{tmp_path}/m.db")
    first = await migrate(settings)
    second = await migrate(settings)
    assert [m.version for m in first] == [m.version for m in load_migrations("sqlite")]
    assert second == []


async def test_two_sqlite_migrators_at_once(tmp_path: Path) -> None:
    settings = _settings(f"sqlite:///{tmp_path}/m.db")
    results = await asyncio.gather(migrate(settings), migrate(settings))
    assert sorted(len(r) for r in results) == [0, len(load_migrations("sqlite"))]


async def test_two_postgres_migrators_at_once() -> None:
    async with fresh_schema_async() as url:
        settings = _settings(url)
        assert len(await pending_migrations(settings)) == len(load_migrations("postgres"))
        results = await asyncio.gather(*(migrate(settings) for _ in range(3)))
        assert sorted(len(r) for r in results) == [0, 0, len(load_migrations("postgres"))]
        assert await pending_migrations(settings) == []


async def test_postgres_refuses_an_edited_history() -> None:
    async with fresh_schema_async() as url:
        await migrate(_settings(url))
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("UPDATE schema_migrations SET checksum = 'tampered' WHERE version = 1")
        finally:
            await conn.close()
        with pytest.raises(MigrationError, match="checksum mismatch"):
            await migrate(_settings(url))


def test_serve_refuses_an_unmigrated_postgres() -> None:
    with fresh_schema() as url:
        env = {**os.environ, "TODOSTACK_DATABASE_URL": url, "TODOSTACK_PORT": "0"}
        done = subprocess.run(
            [sys.executable, "-m", "todostack", "serve"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 3
    assert "not migrated" in done.stderr
    assert "todostack migrate" in done.stderr


def test_migrate_command_then_up_to_date(tmp_path: Path) -> None:
    env = {**os.environ, "TODOSTACK_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db"}
    first = subprocess.run(
        [sys.executable, "-m", "todostack", "migrate"], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    second = subprocess.run(
        [sys.executable, "-m", "todostack", "migrate"], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert "applied 0001_init" in first.stdout
    assert "up to date" in second.stdout
