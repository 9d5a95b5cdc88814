"""Millions of todos into PostgreSQL with COPY: the data behind ``todostack bench --scale`` and
the index-plan test (the rows themselves: ``bench.bulk_rows``).

Above ``DROP_INDEXES_OVER`` rows the secondary indexes are dropped while copying and rebuilt
afterwards from their own definitions (building an index once is far cheaper than keeping it up
to date row by row). The change feed's triggers are off while copying (``feed_paused``; the todo
counts' stay on and count the copied rows), and the
seed ends with ``settle``: ``VACUUM (ANALYZE)`` and a ``CHECKPOINT``, so what is measured next is
a database in the state a long-running one is in.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from todostack.bench.bulk_rows import (
    DROP_INDEXES_OVER,
    TODO_COPY_COLUMNS,
    BulkFacts,
    Layout,
    Progress,
    layout,
    todo_rows,
    user_rows,
)

__all__ = [
    "FEED_TRIGGERS",
    "TODO_COPY_COLUMNS",
    "BulkFacts",
    "Progress",
    "bulk_seed",
    "feed_paused",
    "settle",
    "todo_rows",
]


async def _secondary_indexes(conn: Any, table: str) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_index x ON x.indexrelid ="
        " (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass"
        " WHERE i.tablename = $1 AND i.schemaname = current_schema() AND NOT x.indisprimary AND NOT x.indisunique",
        table,
    )
    return [(r[0], r[1]) for r in rows]


# (table, trigger) of the change feed (migration 0030).
FEED_TRIGGERS = (("todo_lists", "todo_lists_changes"), ("todos", "todos_changes"))


@contextlib.asynccontextmanager
async def feed_paused(conn: Any, triggers: tuple[tuple[str, str], ...] = FEED_TRIGGERS) -> AsyncIterator[None]:
    """The change-feed triggers off while copying, on again after.

    Left on, COPY writes one ``changes`` row per todo, unnumbered, and the next write through
    the service wakes its sequencer, which numbers them all 10,000 at a time while the benchmark
    runs (5 M updates and ``NOTIFY``s at 5 M rows). A database that size in production holds only
    the changes of its retention window; seeded rows are history with none. The todo counts'
    triggers (migration 0050) stay on: statement-level, they add one upsert per owner per COPY."""
    for table, trigger in triggers:
        await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    try:
        yield
    finally:
        for table, trigger in triggers:
            await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


async def settle(conn: Any, tables: tuple[str, ...] = ("users", "todo_lists", "todos", "todo_counts")) -> None:
    """``VACUUM (ANALYZE)`` and a ``CHECKPOINT``: leave the copied rows as a running database has them.

    Freshly copied rows carry no hint bits and no visibility map: the first read of each page
    writes hint bits (and WAL with checksums on), no scan can be index-only, and autovacuum
    wakes up to do this work in the middle of whatever runs next. A database of this size in
    production has long been vacuumed, so the benchmark measures one that has been."""
    for table in tables:
        await conn.execute(f"VACUUM (ANALYZE) {table}")
    # The dirty pages written now, not during the measurement (without the privilege, the next
    # timed checkpoint writes them).
    with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
        await conn.execute("CHECKPOINT")


async def bulk_seed(
    conn: Any,
    *,
    todos: int,
    heavy_todos: int = 100_000,
    users: int = 10_000,
    heavy: tuple[str, str] | None = None,
    seed: int = 24,
    progress: Callable[[str, int], Progress] | None = Progress,
    extra_rows: Sequence[tuple[Any, ...]] = (),
) -> BulkFacts:
    """Add ``todos`` todos: ``heavy_todos`` (at most half) for the heavy user, the rest over
    ``users`` new users. ``heavy`` is an existing (user id, list id) (a registered account that
    can sign in); without it the first new user is the heavy one. ``extra_rows`` (``todo_rows``
    for existing lists) go in first. The change feed records none of it (``feed_paused``); ends
    with ``settle``."""
    started = time.monotonic()
    async with feed_paused(conn):
        plan = await _copy(conn, todos, heavy_todos, users, heavy, seed, progress, extra_rows)
    await settle(conn)
    return plan.facts(started)


async def _copy(
    conn: Any,
    todos: int,
    heavy_todos: int,
    users: int,
    heavy: tuple[str, str] | None,
    seed: int,
    progress: Callable[[str, int], Progress] | None,
    extra_rows: Sequence[tuple[Any, ...]],
) -> Layout:
    now = datetime.now(UTC)
    plan = layout(todos=todos, heavy_todos=heavy_todos, users=users, heavy=heavy, seed=seed)
    if extra_rows:
        await conn.copy_records_to_table("todos", records=extra_rows, columns=TODO_COPY_COLUMNS)
    await conn.copy_records_to_table(
        "users",
        records=[(*row, now) for row in user_rows(plan.owners, seed)],
        columns=("id", "email", "password_hash", "created_at"),
    )
    await conn.copy_records_to_table(
        "todo_lists",
        records=[(lst, u, "Inbox", now, now, 1) for u, lst in plan.owners],
        columns=("id", "owner_id", "name", "created_at", "updated_at", "version"),
    )
    start_at = 0
    if heavy is not None:
        start_at = int(
            await conn.fetchval("SELECT COALESCE(max(position) + 1, 0) FROM todos WHERE list_id = $1", plan.heavy_list)
        )
    dropped: list[tuple[str, str]] = []
    if todos > DROP_INDEXES_OVER:
        dropped = await _secondary_indexes(conn, "todos")
        for name, _ in dropped:
            await conn.execute(f'DROP INDEX "{name}"')
    bar = progress("todos", todos) if progress is not None else None
    for batch in plan.batches(start_at):
        await conn.copy_records_to_table("todos", records=batch, columns=TODO_COPY_COLUMNS)
        if bar is not None:
            bar.step(len(batch))
    for name, definition in dropped:
        if progress is not None:
            print(f"  rebuilding index {name}", file=sys.stderr, flush=True)
        await conn.execute(definition)
    return plan
