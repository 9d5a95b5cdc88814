"""The bulk seeders leave a database as a long-running one would be: every index and trigger in
place, nothing in the change feed for the seeded rows, vacuumed and analysed, the quota's todo
counts exact, and the FTS5 index of SQLite agreeing with the rows. 30,000 rows: above
``DROP_INDEXES_OVER``, so indexes are dropped and rebuilt."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import asyncpg

from tests.pg import require_postgres, run_sync
from todostack.adapters.postgres.migrate import migrate_postgres
from todostack.adapters.sqlite.migrate import migrate_sqlite
from todostack.bench.bulk import bulk_seed
from todostack.bench.bulk_rows import DROP_INDEXES_OVER
from todostack.bench.bulk_sqlite import bulk_seed_sqlite

ROWS = 30_000
SCHEMA = "SELECT type, name FROM sqlite_master WHERE type IN ('index', 'trigger') ORDER BY name"
# The quota's todo counts (migration 0050) against a count of the todos themselves.
COUNTS = "SELECT owner_id, CAST(sum(todos) AS bigint) FROM todo_counts GROUP BY 1 HAVING sum(todos) <> 0 ORDER BY 1"
COUNTED = "SELECT owner_id, count(*) FROM todos GROUP BY owner_id ORDER BY 1"


def test_postgres_seed_is_vacuumed_with_its_feed_quiet_and_its_triggers_back() -> None:
    # Run off the test's event loop: generating rows holds a loop for seconds, which the
    # suite's loop watch (rightly) fails in a test.
    assert ROWS > DROP_INDEXES_OVER
    run_sync(_postgres_seed(require_postgres()))


async def _postgres_seed(admin: str) -> None:
    name = f"ts_bulk_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    url = f"{admin.rsplit('/', 1)[0]}/{name}"
    try:
        await migrate_postgres(url)
        db = await asyncpg.connect(url)
        try:
            indexes = "SELECT indexname FROM pg_indexes WHERE tablename = 'todos' ORDER BY 1"
            before = await db.fetch(indexes)
            facts = await bulk_seed(db, todos=ROWS, heavy_todos=4_000, users=300, progress=None)
            assert await db.fetchval("SELECT count(*) FROM todos") == ROWS
            assert await db.fetch(indexes) == before
            assert await db.fetchval("SELECT count(*) FROM changes") == 0
            vacuumed = await db.fetchval(
                "SELECT bool_and(last_vacuum IS NOT NULL AND last_analyze IS NOT NULL) FROM pg_stat_user_tables"
                " WHERE relname IN ('users', 'todo_lists', 'todos')"
            )
            assert vacuumed
            assert await db.fetchval("SELECT relallvisible > 0 FROM pg_class WHERE relname = 'todos'")
            await db.execute(  # the feed's trigger is on again: a write after the seed is recorded
                "UPDATE todos SET version = version + 1 WHERE id = $1", uuid.UUID(facts.todo_ids[0][1])
            )
            assert await db.fetchval("SELECT count(*) FROM changes") == 1
            counted = await db.fetch(COUNTED)
            assert len(counted) == 300  # the heavy user is one of them
            assert await db.fetch(COUNTS) == counted
            await db.execute("DELETE FROM todos WHERE id = $1", uuid.UUID(facts.todo_ids[0][1]))
            assert await db.fetch(COUNTS) == await db.fetch(COUNTED)
        finally:
            await db.close()
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()


def test_sqlite_seed_puts_back_indexes_and_triggers_and_rebuilds_its_text_index(tmp_path: Path) -> None:
    path = tmp_path / "bulk.db"
    run_sync(migrate_sqlite(f"sqlite:///{path}"))
    with sqlite3.connect(path) as db:
        before = db.execute(SCHEMA).fetchall()
    facts = bulk_seed_sqlite(str(path), todos=ROWS, heavy_todos=4_000, users=300, progress=None)
    db = sqlite3.connect(path)
    try:
        assert db.execute(SCHEMA).fetchall() == before
        assert db.execute("SELECT count(*) FROM todos").fetchone() == (ROWS,)
        assert db.execute("SELECT count(*) FROM changes").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'todos'").fetchone()[0] > 0
        like = "SELECT count(*) FROM todos WHERE (title || ' ' || notes) LIKE '%passport%'"
        # The index keeps no positions (migration 0060): every trigram of the word, then the exact test.
        trigrams = " ".join(f'"{w[i : i + 3]}"' for w in ["passport"] for i in range(6))
        fts = (
            "SELECT count(*) FROM todos_text JOIN todos ON todos.rowid = todos_text.rowid"
            " WHERE todos_text MATCH ? AND (title || ' ' || notes) LIKE '%passport%'"
        )
        assert db.execute(like).fetchone() == db.execute(fts, (trigrams,)).fetchone() != (0,)
        todo_id = facts.todo_ids[0][1]
        db.execute("UPDATE todos SET title = 'zebra crossing' WHERE id = ?", (todo_id,))
        db.commit()
        assert db.execute("SELECT count(*) FROM changes").fetchone() == (1,)
        zebra = 'SELECT count(*) FROM todos_text WHERE todos_text MATCH \'"zeb" "ebr" "bra"\''
        assert db.execute(zebra).fetchone() == (1,)
        counted = db.execute(COUNTED).fetchall()
        assert len(counted) == 300  # the heavy user is one of them
        assert db.execute(COUNTS).fetchall() == counted
        db.execute("DELETE FROM todos WHERE id = ?", (todo_id,))  # the count's triggers are back
        db.commit()
        assert db.execute(COUNTS).fetchall() == db.execute(COUNTED).fetchall()
    finally:
        db.close()
