"""SQLite's ``q`` search: the trigram index (migrations 0040, 0060) where the text is rare, the owner's
own index where it is common, and the same pages either way.

A big owner (3,000 todos, more than a page's walk) and a small one (200) share a file with
other users whose titles carry the same words. What each search reads is checked on the plans
of the statements it sends and on the rows it tests (calls of ``py_lower``), never on timing.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from todostack.adapters.migrations import load_migrations
from todostack.adapters.sql import TODO_COLUMNS
from todostack.adapters.sqlite import SqliteDatabase
from todostack.adapters.sqlite.codec import todo_values
from todostack.adapters.sqlite.migrate import migrate_sqlite
from todostack.adapters.sqlite.todos import SqliteTodos
from todostack.domain import Priority, Todo, TodoList, User
from todostack.usecases.queries import Cursor, SortField, TodoFilter, TodoQuery, sort_key

BIG, SMALL = 3_000, 200
WALK = 20 * 51  # the rows a 50-todo page walks before it asks the index (SqliteTodos)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _title(owner: str, i: int) -> str:
    if owner == "other":  # the rare word is common elsewhere: the index yields other users' rows
        return f"Rare Bird {i}"
    if owner == "big" and i in (1_700, 2_950):
        return f"a RARE bird {i}"
    return f"common errand {i}" if i % 4 == 0 else f"todo {i}"


def _todos(owner: str, count: int) -> list[Todo]:
    return [
        Todo(
            f"{owner}-{i:05}",
            owner,
            f"{owner}-list",
            _title(owner, i),
            "",
            False,
            None,
            EPOCH + timedelta(hours=(i * 7919) % count) if i % 3 else None,
            Priority.NONE,
            (),
            i,
            EPOCH + timedelta(minutes=i),
            EPOCH,
            1,
        )
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, list[Todo]]]:
    path = tmp_path_factory.mktemp("text-search") / "search.db"
    url = f"sqlite:///{path}"
    asyncio.run(migrate_sqlite(url))
    todos = {"big": _todos("big", BIG), "small": _todos("small", SMALL), "other": _todos("other", 4_000)}
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN")
        for owner, rows in todos.items():
            db.execute("INSERT INTO users VALUES (?, ?, 'x', ?)", (owner, f"{owner}@example.com", EPOCH.isoformat()))
            db.execute("INSERT INTO todo_lists VALUES (?, ?, 'Inbox', ?, ?, 1)", (f"{owner}-list", owner, "t", "t"))
            db.executemany(f"INSERT INTO todos ({TODO_COLUMNS}) VALUES ({', '.join('?' * 14)})", map(todo_values, rows))
        db.execute("COMMIT")
        db.execute("ANALYZE")
    finally:
        db.close()
    return url, todos


class Recorder:
    """The adapter's connection, each statement recorded, ``py_lower`` counted."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.statements: list[tuple[str, list[Any]]] = []
        self.tested = 0

    def lower(self, text: str) -> str:
        self.tested += 1
        return text.lower()

    async def fetchall(self, sql: str, parameters: Any = ()) -> list[Any]:
        self.statements.append((sql, list(parameters)))
        rows: list[Any] = await self.conn.fetchall(sql, parameters)
        return rows

    async def fetchone(self, sql: str, parameters: Any = ()) -> Any:
        rows = await self.fetchall(sql, parameters)
        return rows[0] if rows else None

    async def plans(self) -> list[str]:
        plans = []
        for sql, args in self.statements:
            rows = await self.conn.fetchall(f"EXPLAIN QUERY PLAN {sql}", args)
            plans.append(" | ".join(r[3] for r in rows))
        return plans


@pytest.fixture
async def recorder(seeded: tuple[str, dict[str, list[Todo]]]) -> AsyncIterator[Recorder]:
    db = await SqliteDatabase.connect(seeded[0], size=1)
    try:
        async with db() as uow:
            rec = Recorder(uow.todos._c)
            await rec.conn.raw.create_function("py_lower", 1, rec.lower, deterministic=True)
            yield rec
    finally:
        await db.close()


def _query(owner: str, text: str, sort: SortField = SortField.ORDER, descending: bool = False) -> TodoQuery:
    return TodoQuery(owner, TodoFilter(text=text), sort, descending, 50, None)


def _expected(todos: list[Todo], text: str, sort: SortField, descending: bool) -> list[str]:
    found = [t for t in todos if text.lower() in f"{t.title} {t.notes}".lower()]
    key = {SortField.DUE: lambda t: (t.due is None, t.due or EPOCH, t.id)}.get(
        sort, lambda t: (sort_key(t, sort), t.id)
    )
    return [t.id for t in sorted(found, key=key, reverse=descending)]


async def _all_pages(todos: SqliteTodos, query: TodoQuery) -> list[str]:
    found: list[str] = []
    while True:
        page = await todos.search(query)
        found += [t.id for t in page[: query.limit]]
        if len(page) <= query.limit:
            return found
        last = page[query.limit - 1]
        cursor = Cursor(query.sort, query.descending, sort_key(last, query.sort), last.id)
        query = TodoQuery(query.owner_id, query.filter, query.sort, query.descending, query.limit, cursor)


async def test_a_common_word_walks_the_owners_index_and_leaves_the_trigram_index(recorder: Recorder) -> None:
    page = await SqliteTodos(recorder).search(_query("big", "COMMON"))  # type: ignore[arg-type]
    assert [t.id for t in page] == [f"big-{i:05}" for i in range(0, 204, 4)]
    # Before: every user's matches were gathered from the index for one page of one user.
    assert not [p for p in await recorder.plans() if "todos_text" in p]
    assert recorder.tested <= 51 * 4 + 1  # and py_lower(?) once


async def test_a_rare_word_starts_from_the_trigram_index(recorder: Recorder) -> None:
    page = await SqliteTodos(recorder).search(_query("big", "rare"))  # type: ignore[arg-type]
    assert [t.id for t in page] == ["big-01700", "big-02950"]
    final = (await recorder.plans())[-1]
    # Before: the owner's 3,000 rows walked one by one, each looked up in the matches.
    assert final.startswith("SCAN todos_text VIRTUAL TABLE"), final
    assert "USING INTEGER PRIMARY KEY (rowid=?)" in final, final
    assert recorder.tested <= WALK + 4_002 + 2  # the bounded walk, then the index's candidates


async def test_a_small_owner_is_walked_whole_and_never_asks_the_index(recorder: Recorder) -> None:
    page = await SqliteTodos(recorder).search(_query("small", "common"))  # type: ignore[arg-type]
    assert len(page) == 50
    assert not [p for p in await recorder.plans() if "todos_text" in p]
    assert recorder.tested <= SMALL + 1


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("sort", list(SortField), ids=[s.value for s in SortField])
@pytest.mark.parametrize("text", ["common", "rare", "bird 29", "od"])
async def test_every_page_is_the_same_whichever_way_it_was_found(
    recorder: Recorder, seeded: tuple[str, dict[str, list[Todo]]], text: str, sort: SortField, descending: bool
) -> None:
    todos = SqliteTodos(recorder)  # type: ignore[arg-type]
    for owner in ("big", "small"):
        found = await _all_pages(todos, _query(owner, text, sort, descending))
        assert found == _expected(seeded[1][owner], text, sort, descending)


async def test_the_trigram_index_follows_edits_and_deletes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/edits.db"
    await migrate_sqlite(url)
    db = await SqliteDatabase.connect(url, size=1)
    try:
        async with db(write=True) as uow:
            await uow.users.add(User("u1", "u1@example.com", "x", EPOCH))
            await uow.lists.add(TodoList("l1", "u1", "Inbox", EPOCH, EPOCH, 1))
            for i in range(WALK + 100):  # more than a page walks: the index answers
                title = {7: "Renew the PASSPORT", 11: "pass the sport", 12: 'say "quote"'}.get(i, f"todo {i}")
                await uow.todos.add(
                    Todo(f"t{i:04}", "u1", "l1", title, "", False, None, None, Priority.NONE, (), i, EPOCH, EPOCH, 1)
                )
            await uow.commit()
        async with db(write=True) as uow:
            t8 = await uow.todos.get("u1", "t0008")
            assert t8 is not None
            await uow.todos.update(replace(t8, title="passport photos"))
            await uow.todos.delete("u1", "t0009")
            await uow.commit()
        async with db() as uow:
            recorder = Recorder(uow.todos._c)
            todos = SqliteTodos(recorder)  # type: ignore[arg-type]
            # "pass the sport" holds every trigram of "passport", not the word: the exact test drops it.
            found = await todos.search(_query("u1", "passport"))
            assert [t.id for t in found] == ["t0007", "t0008"]
            assert (await recorder.plans())[-1].startswith("SCAN todos_text VIRTUAL TABLE")
            quoted = await todos.search(_query("u1", '"quote"'))  # FTS5's quote, escaped
            assert [t.id for t in quoted] == ["t0012"]
            short = await todos.search(_query("u1", "SS"))  # under three characters: no index, still found
            assert [t.id for t in short] == ["t0007", "t0008", "t0011"]
    finally:
        await db.close()


def _fill_0040(path: Path, rows: list[Todo]) -> tuple[int]:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("INSERT INTO users VALUES ('big', 'big@example.com', 'x', ?)", (EPOCH.isoformat(),))
        db.execute("INSERT INTO todo_lists VALUES ('big-list', 'big', 'Inbox', 't', 't', 1)")
        db.executemany(f"INSERT INTO todos ({TODO_COLUMNS}) VALUES ({', '.join('?' * 14)})", map(todo_values, rows))
        phrase = "SELECT count(*) FROM todos_text WHERE todos_text MATCH '\"passport\"'"
        held: tuple[int] = db.execute(phrase).fetchone()
        return held
    finally:
        db.close()


async def test_an_index_of_0040_is_rebuilt_lean_by_0060_with_the_rows_it_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file migrated before 0060 (positions kept) holds todos; 0060 rebuilds the index from them."""
    from todostack.adapters.sqlite import migrate

    url = f"sqlite:///{tmp_path}/upgrade.db"
    shipped = load_migrations("sqlite")
    monkeypatch.setattr(migrate, "load_migrations", lambda dialect: [m for m in shipped if m.version < 60])
    await migrate_sqlite(url)
    rows = _todos("big", WALK + 100)  # more than a page walks: the index answers
    rows[5] = replace(rows[5], title="Renew the PASSPORT")
    held = await asyncio.to_thread(_fill_0040, tmp_path / "upgrade.db", rows)
    assert held == (1,)  # 0040's index matches the phrase
    monkeypatch.undo()
    assert [m.version for m in await migrate_sqlite(url)] == [60]
    database = await SqliteDatabase.connect(url, size=1)
    try:
        async with database() as uow:
            recorder = Recorder(uow.todos._c)
            found = await SqliteTodos(recorder).search(_query("big", "passport"))  # type: ignore[arg-type]
            assert [t.id for t in found] == ["big-00005"]
            assert (await recorder.plans())[-1].startswith("SCAN todos_text VIRTUAL TABLE")
    finally:
        await database.close()
