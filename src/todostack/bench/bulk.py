"""Millions of todos into PostgreSQL with COPY: the data behind ``todostack bench --scale`` and
the index-plan test.

The shape is the issue's: one heavy user with many todos in one list, the rest spread over
10,000 users (one list each); tags from a small vocabulary (0-3 per todo, skewed like real
labels), due dates on 60 % of todos, 30 % completed. Rows are generated from a seeded random
source, so a size always gives the same data. Above ``DROP_INDEXES_OVER`` rows the secondary
indexes are dropped while copying and rebuilt afterwards from their own definitions (building an
index once is far cheaper than keeping it up to date row by row).
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["TODO_COPY_COLUMNS", "BulkFacts", "Progress", "bulk_seed", "todo_rows"]

TAGS = (
    "work", "home", "errand", "later", "urgent", "call", "email", "read", "buy", "health",
    "finance", "travel", "kids", "garden", "car", "meeting", "idea", "review", "bug", "blocked",
)  # fmt: skip
WORDS = (
    "pay", "book", "call", "fix", "write", "send", "plan", "clean", "order", "renew", "check", "print",
    "invoice", "dentist", "groceries", "report", "tickets", "passport", "bike", "laptop", "garage",
    "insurance", "birthday", "slides", "contract", "budget", "doctor", "visa", "boiler", "roof",
)  # fmt: skip
TODO_COPY_COLUMNS = (
    "id", "owner_id", "list_id", "title", "notes", "completed", "completed_at", "due", "priority", "tags",
    "position", "created_at", "updated_at", "version",
)  # fmt: skip
DROP_INDEXES_OVER = 20_000
BATCH = 50_000
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_TAG_WEIGHTS = tuple(sum(range(len(TAGS), len(TAGS) - n, -1)) for n in range(1, len(TAGS) + 1))  # skewed
UNUSABLE_HASH = "!bulk-seeded: no password signs in"


@dataclass(frozen=True, slots=True)
class BulkFacts:
    """What a benchmark or a test needs to know about the seeded rows."""

    heavy_owner: str
    heavy_list: str
    owners: list[tuple[str, str]]  # (user id, list id) of the spread users, a sample
    todo_ids: list[tuple[str, str]] = field(default_factory=list)  # (owner id, todo id), a sample
    todos: int = 0
    seconds: float = 0.0


class Progress:
    """A progress bar on stderr: ``[#####.....] 1,200,000/5,000,000 todos (84,000/s)``."""

    def __init__(self, label: str, total: int, out: Any = sys.stderr) -> None:
        self.label, self.total, self.done, self.out = label, total, 0, out
        self.started = time.monotonic()

    def step(self, n: int) -> None:
        self.done += n
        width = 30
        filled = width * self.done // max(1, self.total)
        rate = self.done / max(1e-6, time.monotonic() - self.started)
        end = "\n" if self.done >= self.total else ""
        bar = "#" * filled + "." * (width - filled)
        print(
            f"\r  {self.label:<12} [{bar}] {self.done:,}/{self.total:,} ({rate:,.0f}/s)",
            end=end,
            file=self.out,
            flush=True,
        )


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def todo_rows(
    rng: random.Random, owner: str, list_id: str, count: int, first_position: int
) -> Iterator[tuple[Any, ...]]:
    for i in range(count):
        created = EPOCH + timedelta(seconds=rng.randrange(300 * 24 * 3600))
        done = rng.random() < 0.3
        due = created + timedelta(hours=rng.randrange(-24 * 30, 24 * 365)) if rng.random() < 0.6 else None
        k = rng.choices((0, 1, 2, 3), cum_weights=(30, 70, 90, 100))[0]
        tags = sorted(set(rng.choices(TAGS, cum_weights=_TAG_WEIGHTS, k=k))) if k else []
        title = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.randrange(10_000)}"
        yield (
            _uuid(rng),
            owner,
            list_id,
            title,
            "" if rng.random() < 0.7 else f"notes on {rng.choice(WORDS)}",
            done,
            created + timedelta(days=1) if done else None,
            due,
            rng.randrange(4),
            tags,
            first_position + i,
            created,
            created,
            1,
        )


async def _secondary_indexes(conn: Any, table: str) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_index x ON x.indexrelid ="
        " (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass"
        " WHERE i.tablename = $1 AND i.schemaname = current_schema() AND NOT x.indisprimary AND NOT x.indisunique",
        table,
    )
    return [(r[0], r[1]) for r in rows]


async def bulk_seed(
    conn: Any,
    *,
    todos: int,
    heavy_todos: int = 100_000,
    users: int = 10_000,
    heavy: tuple[str, str] | None = None,
    seed: int = 24,
    progress: Callable[[str, int], Progress] | None = Progress,
) -> BulkFacts:
    """Add ``todos`` todos: ``heavy_todos`` (at most half) for the heavy user, the rest over
    ``users`` new users. ``heavy`` is an existing (user id, list id) (a registered account that
    can sign in); without it the first new user is the heavy one. Ends with ``ANALYZE``."""
    started = time.monotonic()
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    now = datetime.now(UTC)
    spread_users = max(1, users)
    owners = [(_uuid(rng), _uuid(rng)) for _ in range(spread_users)]
    await conn.copy_records_to_table(
        "users",
        records=[
            (u, f"scale-{seed}-{n}-{u[:8]}@example.invalid", UNUSABLE_HASH, now) for n, (u, _) in enumerate(owners)
        ],
        columns=("id", "email", "password_hash", "created_at"),
    )
    await conn.copy_records_to_table(
        "todo_lists",
        records=[(lst, u, "Inbox", now, now, 1) for u, lst in owners],
        columns=("id", "owner_id", "name", "created_at", "updated_at", "version"),
    )
    heavy_owner, heavy_list = heavy or owners[0]
    start_at = 0
    if heavy is not None:
        start_at = int(
            await conn.fetchval("SELECT COALESCE(max(position) + 1, 0) FROM todos WHERE list_id = $1", heavy_list)
        )
    heavy_count = min(heavy_todos, todos // 2)
    dropped: list[tuple[str, str]] = []
    if todos > DROP_INDEXES_OVER:
        dropped = await _secondary_indexes(conn, "todos")
        for name, _ in dropped:
            await conn.execute(f'DROP INDEX "{name}"')
    bar = progress("todos", todos) if progress is not None else None
    sample: list[tuple[str, str]] = []

    spread = owners if heavy is not None else owners[1:] or owners

    def plan() -> Iterator[tuple[str, str, int, int]]:
        yield heavy_owner, heavy_list, heavy_count, start_at
        per, extra = divmod(todos - heavy_count, len(spread))
        for n, (u, lst) in enumerate(spread):
            count = per + (1 if n < extra else 0)
            if count:
                yield u, lst, count, start_at + heavy_count if (u, lst) == (heavy_owner, heavy_list) else 0

    batch: list[tuple[Any, ...]] = []
    for owner, list_id, count, first in plan():
        for row in todo_rows(rng, owner, list_id, count, first):
            batch.append(row)
            if len(sample) < 2000 and rng.random() < 0.01:
                sample.append((row[1], row[0]))
            if len(batch) >= BATCH:
                await conn.copy_records_to_table("todos", records=batch, columns=TODO_COPY_COLUMNS)
                if bar is not None:
                    bar.step(len(batch))
                batch = []
    if batch:
        await conn.copy_records_to_table("todos", records=batch, columns=TODO_COPY_COLUMNS)
        if bar is not None:
            bar.step(len(batch))
    for name, definition in dropped:
        if progress is not None:
            print(f"  rebuilding index {name}", file=sys.stderr, flush=True)
        await conn.execute(definition)
    await conn.execute("ANALYZE users; ANALYZE todo_lists; ANALYZE todos")
    return BulkFacts(heavy_owner, heavy_list, spread[:200], sample, todos, round(time.monotonic() - started, 1))
