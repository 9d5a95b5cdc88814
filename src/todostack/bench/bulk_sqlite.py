"""Millions of todos into SQLite: the same rows (``bench.bulk_rows``) as ``bench.bulk`` writes to PostgreSQL.

``executemany`` in big transactions, with what makes each insert dear set aside while copying:
above ``DROP_INDEXES_OVER`` rows the secondary indexes are dropped and rebuilt from their own
definitions afterwards; the trigger that keeps the FTS5 ``q`` index (migration 0040) in step is
dropped and the index rebuilt in one pass (``'rebuild'``), and so is the todo counts' (migration
0050; recounted in one pass, ``RECOUNT``); the change feed's triggers are off (no ``changes`` row
per seeded todo, as with ``bench.bulk.feed_paused``); all put back after. Ends with ``ANALYZE``
(the statistics a long-running database would have) and a WAL checkpoint.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from todostack.adapters.sqlite.codec import dt_in
from todostack.bench.bulk_rows import DROP_INDEXES_OVER, TODO_COPY_COLUMNS, BulkFacts, Progress, layout, user_rows

__all__ = ["INSERT_TODO", "RECOUNT", "bulk_seed_sqlite", "sqlite_row"]

# The FTS insert trigger (rebuilt in one pass instead), the change feed's (migration 0030: one
# ``changes`` row per todo, which a database this size in production has long pruned) and the todo
# counts' (migration 0050: one upsert per row; recounted in one pass instead, ``RECOUNT``).
SET_ASIDE_TRIGGERS = ("todos_text_insert", "todos_created", "todo_lists_created", "todos_counted_in")
RECOUNT = (
    "INSERT INTO todo_counts (owner_id, todos) SELECT owner_id, count(*) FROM todos WHERE true GROUP BY owner_id"
    " ON CONFLICT (owner_id) DO UPDATE SET todos = excluded.todos"
)
INSERT_TODO = f"INSERT INTO todos ({', '.join(TODO_COPY_COLUMNS)}) VALUES ({', '.join('?' * len(TODO_COPY_COLUMNS))})"


def sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row of ``bench.bulk.todo_rows`` as the SQLite adapter stores it (``adapters.sqlite.codec``)."""
    (id_, owner, list_id, title, notes, done, done_at, due, priority, tags, position, created, updated, version) = row
    return (
        id_,
        owner,
        list_id,
        title,
        notes,
        int(done),
        None if done_at is None else dt_in(done_at),
        None if due is None else dt_in(due),
        priority,
        json.dumps(tags),
        position,
        dt_in(created),
        dt_in(updated),
        version,
    )


def _set_aside(db: sqlite3.Connection, todos: int) -> list[str]:
    """Drop the triggers of ``SET_ASIDE_TRIGGERS`` and, for a big seed, the secondary indexes of
    ``todos``; the SQL that puts them back."""
    rows = db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND ((type = 'index' AND tbl_name = 'todos'"
        f" AND ?) OR (type = 'trigger' AND name IN ({', '.join('?' * len(SET_ASIDE_TRIGGERS))})))",
        (todos > DROP_INDEXES_OVER, *SET_ASIDE_TRIGGERS),
    ).fetchall()
    for kind, name, _ in rows:
        db.execute(f'DROP {kind.upper()} "{name}"')
    return [sql for _, _, sql in rows]


def bulk_seed_sqlite(
    path: str,
    *,
    todos: int,
    heavy_todos: int = 100_000,
    users: int = 10_000,
    heavy: tuple[str, str] | None = None,
    seed: int = 24,
    progress: Callable[[str, int], Progress] | None = Progress,
    extra_rows: Sequence[tuple[Any, ...]] = (),
) -> BulkFacts:
    """``bench.bulk.bulk_seed`` for a migrated SQLite file at ``path`` (same arguments, same rows)."""
    started = time.monotonic()
    now = dt_in(datetime.now(UTC))
    plan = layout(todos=todos, heavy_todos=heavy_todos, users=users, heavy=heavy, seed=seed)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("BEGIN IMMEDIATE")
        put_back = _set_aside(db, todos)
        db.executemany(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)",
            ((*row, now) for row in user_rows(plan.owners, seed)),
        )
        db.executemany(
            "INSERT INTO todo_lists (id, owner_id, name, created_at, updated_at, version)"
            " VALUES (?, ?, 'Inbox', ?, ?, 1)",
            ((lst, u, now, now) for u, lst in plan.owners),
        )
        db.executemany(INSERT_TODO, map(sqlite_row, extra_rows))
        start_at = int(
            db.execute(
                "SELECT COALESCE(max(position) + 1, 0) FROM todos WHERE list_id = ?", (plan.heavy_list,)
            ).fetchone()[0]
        )
        db.execute("COMMIT")
        bar = progress("todos", todos) if progress is not None else None
        for batch in plan.batches(start_at):
            db.execute("BEGIN IMMEDIATE")
            db.executemany(INSERT_TODO, map(sqlite_row, batch))
            db.execute("COMMIT")
            if bar is not None:
                bar.step(len(batch))
        if progress is not None:
            print("  rebuilding the indexes and the FTS5 index", file=sys.stderr, flush=True)
        db.execute("BEGIN IMMEDIATE")
        for sql in put_back:
            db.execute(sql)
        db.execute("INSERT INTO todos_text (todos_text) VALUES ('rebuild')")
        db.execute(RECOUNT)
        db.execute("COMMIT")
        db.execute("ANALYZE")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return plan.facts(started)
