"""The todo counts of the SQL stores (migration 0050): kept by triggers whatever the statement
(several owners at once, a list's or an account's cascade, an owner changed), and back-filled by
the migration from the todos already there. Each step checks the table against a count of the
todos themselves."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import pytest

from tests.pg import fresh_schema_async
from todostack.adapters.migrations import load_migrations
from todostack.adapters.postgres.migrate import migrate_postgres
from todostack.adapters.sqlite.migrate import migrate_sqlite

# An account's count is the sum of its rows (PostgreSQL spreads it over slots; SQLite has one).
COUNTS = "SELECT owner_id, CAST(sum(todos) AS bigint) FROM todo_counts GROUP BY 1 HAVING sum(todos) <> 0 ORDER BY 1"
COUNTED = "SELECT owner_id, count(*) FROM todos GROUP BY owner_id ORDER BY 1"
U1, U2 = "00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000a2"
L1, L2, L3 = (f"00000000-0000-4000-8000-0000000000b{n}" for n in (1, 2, 3))
AT = "'2026-01-01T00:00:00.000000Z'"  # a time both stores read from text


def _t(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


class Db(Protocol):
    async def run(self, sql: str, *args: object) -> None: ...

    async def rows(self, sql: str) -> list[tuple[str, int]]: ...


class _Pg:
    def __init__(self, conn: asyncpg.Connection[Any]) -> None:
        self.conn = conn

    async def run(self, sql: str, *args: object) -> None:
        n = iter(range(1, len(args) + 1))
        await self.conn.execute("".join(f"${next(n)}" if c == "?" else c for c in sql), *args)

    async def rows(self, sql: str) -> list[tuple[str, int]]:
        return [(str(r[0]), r[1]) for r in await self.conn.fetch(sql)]


class _Lite:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def run(self, sql: str, *args: object) -> None:
        self.conn.execute(sql, args)

    async def rows(self, sql: str) -> list[tuple[str, int]]:
        return [(r[0], r[1]) for r in self.conn.execute(sql)]


@asynccontextmanager
async def _database(dialect: str, tmp_path: Path, before: int | None = None) -> AsyncIterator[tuple[Db, str]]:
    """A migrated database and its URL (migrated only below ``before`` when given)."""
    if dialect == "postgres":
        async with fresh_schema_async() as url:
            await _migrate(url, before)
            conn = await asyncpg.connect(url)
            try:
                yield _Pg(conn), url
            finally:
                await conn.close()
    else:
        url = f"sqlite:///{tmp_path}/counts.db"
        await _migrate(url, before)
        lite = sqlite3.connect(tmp_path / "counts.db", isolation_level=None)
        lite.execute("PRAGMA foreign_keys = ON")
        try:
            yield _Lite(lite), url
        finally:
            lite.close()


async def _migrate(url: str, before: int | None = None) -> None:
    dialect, migrate = ("sqlite", migrate_sqlite) if url.startswith("sqlite") else ("postgres", migrate_postgres)
    with pytest.MonkeyPatch.context() as patch:
        if before is not None:
            shipped = [m for m in load_migrations(dialect) if m.version < before]
            patch.setattr(f"todostack.adapters.{dialect}.migrate.load_migrations", lambda _: shipped)
        await migrate(url)


async def _people(db: Db) -> None:
    for user in (U1, U2):
        await db.run(f"INSERT INTO users VALUES (?, ?, 'x', {AT})", user, f"{user}@example.com")
    for lst, owner in ((L1, U1), (L2, U1), (L3, U2)):
        await db.run(f"INSERT INTO todo_lists VALUES (?, ?, 'l', {AT}, {AT}, 1)", lst, owner)


async def _todos(db: Db, rows: list[tuple[int, str, str]]) -> None:
    """One INSERT of every row (id number, owner, list)."""
    tags = "'{}'" if isinstance(db, _Pg) else "'[]'"
    values = ", ".join(f"(?, ?, ?, 't', '', false, NULL, NULL, 0, {tags}, 0, {AT}, {AT}, 1)" for _ in rows)
    await db.run(f"INSERT INTO todos VALUES {values}", *[v for row in rows for v in (_t(row[0]), *row[1:])])


async def _check(db: Db, expected: list[tuple[str, int]]) -> None:
    assert await db.rows(COUNTS) == expected
    assert await db.rows(COUNTED) == expected


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
async def test_the_triggers_keep_the_counts_whatever_the_statement(dialect: str, tmp_path: Path) -> None:
    async with _database(dialect, tmp_path) as (db, _):
        await _people(db)
        await _todos(db, [(1, U1, L1), (2, U1, L1), (3, U1, L2), (4, U1, L2), (5, U2, L3), (6, U2, L3)])
        await _check(db, [(U1, 4), (U2, 2)])
        await db.run("UPDATE todos SET list_id = ? WHERE id = ?", L2, _t(1))  # a move: no change
        await _check(db, [(U1, 4), (U2, 2)])
        await db.run("DELETE FROM todos WHERE id IN (?, ?)", _t(2), _t(5))  # two owners in one statement
        await _check(db, [(U1, 3), (U2, 1)])
        await db.run("UPDATE todos SET owner_id = ?, list_id = ? WHERE id = ?", U2, L3, _t(3))
        await _check(db, [(U1, 2), (U2, 2)])
        await db.run("DELETE FROM todo_lists WHERE id = ?", L2)  # the list's todos 1 and 4 by cascade
        await _check(db, [(U2, 2)])
        await _todos(db, [(7, U1, L1)])
        await db.run("DELETE FROM users WHERE id = ?", U2)  # the account, its lists, todos and count
        await _check(db, [(U1, 1)])
        rows = await db.rows("SELECT owner_id, count(*) FROM todo_counts GROUP BY 1 ORDER BY 1")
        assert [owner for owner, _ in rows] == [U1]  # U2's rows went with the account
        if dialect == "postgres":  # SQLite has no TRUNCATE (a DELETE, which the triggers count)
            await db.run("TRUNCATE todos")
            await _check(db, [])


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
async def test_the_migration_counts_the_todos_already_there(dialect: str, tmp_path: Path) -> None:
    async with _database(dialect, tmp_path, before=50) as (db, url):
        await _people(db)
        await _todos(db, [(n, U1, L1 if n % 2 else L2) for n in range(1, 8)] + [(20, U2, L3)])
        await _migrate(url)
        await _check(db, [(U1, 7), (U2, 1)])
        await _todos(db, [(21, U2, L3)])  # and keeps them from then on
        await _check(db, [(U1, 7), (U2, 2)])


async def test_creates_of_one_account_on_two_connections_do_not_wait_for_each_other(tmp_path: Path) -> None:
    # One counter row per account would be locked by the first create until its commit; the
    # second would wait (and here time out). Slots are chosen by the server process's pid.
    async with _database("postgres", tmp_path) as (db, url):
        assert isinstance(db, _Pg)
        await _people(db)
        first = db.conn.get_server_pid() % 16
        others = [await asyncpg.connect(url) for _ in range(3)]
        try:
            other = next(c for c in others if c.get_server_pid() % 16 != first)  # all three in its slot: 1 in 4,096
            async with db.conn.transaction():
                await _todos(db, [(1, U1, L1)])
                await other.execute("SET lock_timeout = '5s'")
                await _todos(_Pg(other), [(2, U1, L1)])  # autocommit, while the first is still open
            await _todos(_Pg(other), [(3, U1, L1)])
            await db.run("DELETE FROM todos WHERE id = ?", _t(2))
            await _check(db, [(U1, 2)])
        finally:
            for c in others:
                await c.close()
