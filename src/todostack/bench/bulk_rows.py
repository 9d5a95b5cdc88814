"""The rows behind ``todostack bench --scale`` and the index-plan test, for either database.

The shape is the issue's: one heavy user with many todos in one list, the rest spread over
10,000 users (one list each); tags from a small vocabulary (0-3 per todo, skewed like real
labels), due dates on 60 % of todos, 30 % completed. Rows are generated from a seeded random
source, so a size always gives the same data. ``bench.bulk`` writes them to PostgreSQL,
``bench.bulk_sqlite`` to SQLite.
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "BATCH", "DROP_INDEXES_OVER", "TODO_COPY_COLUMNS", "BulkFacts", "Layout", "Progress", "layout", "todo_rows",
    "user_rows",
]  # fmt: skip

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


@dataclass(slots=True)
class Layout:
    """Who gets which todos: the shape both writers (PostgreSQL here, ``bulk_sqlite``) fill in."""

    rng: random.Random
    owners: list[tuple[str, str]]  # (user id, list id) of every new user
    heavy_owner: str
    heavy_list: str
    heavy_count: int
    spread: list[tuple[str, str]]
    todos: int
    sample: list[tuple[str, str]] = field(default_factory=list)

    def batches(self, start_at: int, size: int = BATCH) -> Iterator[list[tuple[Any, ...]]]:
        """Every todo row, ``size`` at a time; the heavy list's positions continue from ``start_at``."""
        batch: list[tuple[Any, ...]] = []
        for owner, list_id, count, first in self._plan(start_at):
            for row in todo_rows(self.rng, owner, list_id, count, first):
                batch.append(row)
                if len(self.sample) < 2000 and self.rng.random() < 0.01:
                    self.sample.append((row[1], row[0]))
                if len(batch) >= size:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def _plan(self, start_at: int) -> Iterator[tuple[str, str, int, int]]:
        yield self.heavy_owner, self.heavy_list, self.heavy_count, start_at
        per, extra = divmod(self.todos - self.heavy_count, len(self.spread))
        for n, (u, lst) in enumerate(self.spread):
            count = per + (1 if n < extra else 0)
            if count:
                heavy = (u, lst) == (self.heavy_owner, self.heavy_list)
                yield u, lst, count, start_at + self.heavy_count if heavy else 0

    def facts(self, started: float) -> BulkFacts:
        return BulkFacts(
            self.heavy_owner,
            self.heavy_list,
            self.spread[:200],
            self.sample,
            self.todos,
            round(time.monotonic() - started, 1),
        )


def layout(*, todos: int, heavy_todos: int, users: int, heavy: tuple[str, str] | None, seed: int) -> Layout:
    """The new users and the share of todos each gets, from a seeded random source."""
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    owners = [(_uuid(rng), _uuid(rng)) for _ in range(max(1, users))]
    heavy_owner, heavy_list = heavy or owners[0]
    spread = owners if heavy is not None else owners[1:] or owners
    return Layout(rng, owners, heavy_owner, heavy_list, min(heavy_todos, todos // 2), spread, todos)


def user_rows(owners: list[tuple[str, str]], seed: int) -> Iterator[tuple[str, str, str]]:
    """(id, email, password hash) of each new user: nobody can sign in as them."""
    for n, (u, _) in enumerate(owners):
        yield u, f"scale-{seed}-{n}-{u[:8]}@example.invalid", UNUSABLE_HASH
