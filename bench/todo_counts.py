"""What the per-account todo counts (migration 0050) buy and cost on PostgreSQL: the quota's read
before a create, and the trigger's share of the create itself.

    flock /tmp/bench.lock .venv/bin/python bench/todo_counts.py [postgresql://postgres@127.0.0.1:5432/postgres]

A database of its own (``todostack_helper_counter_bench``, dropped after), two schemas migrated by
the real migrations: ``counted`` (all of them) and ``walked`` (all before 0050: no counts, no
triggers). The same accounts in both: one holding 50 todos, one at the default quota (10,000).

1. Reads, in ``counted``, the median and p90 of 300 each, taken in turn: ``SELECT 1`` (the round
   trip alone), the walk the quota did before (``bench/quota_count.py``'s statement) and the
   counter's row.
2. A create as the service sends it (``PLACE_IN_LIST``, autocommit, its commit included): 300
   into each schema, alternating which goes first, medians and the median of the paired
   differences.
3. Creates of one account from 8 connections at once for 2 s, three rounds per schema in turn:
   creates per second. A counter row stays locked from its write to the commit: with one row per
   account these creates queued on it (half the rate); the count is spread over slots by server
   process, so they do not.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import asyncpg

from todostack.adapters.migrations import load_migrations
from todostack.adapters.postgres.todos import PLACE_IN_LIST, TODO_COUNT
from todostack.adapters.sql import TODO_COLUMNS

DATABASE = "todostack_helper_counter_bench"
QUOTA = 10_000
RUNS = 300
WALK = "SELECT count(*) FROM (SELECT 1 FROM todos WHERE owner_id = $1 LIMIT $2) AS held"
NOW = datetime.now(UTC)


def _ms(times: list[float]) -> str:
    times = sorted(times)
    return f"median {statistics.median(times) * 1000:.3f} ms, p90 {times[int(len(times) * 0.9)] * 1000:.3f} ms"


async def _reads(conn: Any, statements: dict[str, tuple[str, tuple[object, ...]]]) -> dict[str, list[float]]:
    """``RUNS`` timings of each statement, taken in turn so that a burst of load elsewhere on the
    machine falls on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in statements}
    for _ in range(RUNS):
        for name, (sql, args) in statements.items():
            started = time.perf_counter()
            await conn.fetchval(sql, *args)
            times[name].append(time.perf_counter() - started)
    return times


async def _schema(url: str, schema: str, before: int | None) -> str:
    """A schema with the shipped migrations applied in order (those below ``before`` when given)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}; SET search_path = {schema}, public")
        for migration in load_migrations("postgres"):
            if before is None or migration.version < before:
                async with conn.transaction():
                    await conn.execute(migration.sql)
    finally:
        await conn.close()
    return f"{url}?{urlencode({'search_path': f'{schema},public'})}"


async def _accounts(conn: Any) -> dict[str, tuple[uuid.UUID, uuid.UUID]]:
    """name: (user, list) of three accounts: 50 todos, the quota's 10,000, and one for creates."""
    made: dict[str, tuple[uuid.UUID, uuid.UUID]] = {}
    for name, held in (("small", 50), ("full", QUOTA), ("writer", 50)):
        user, lst = uuid.UUID(int=len(made) + 1), uuid.UUID(int=len(made) + 101)
        await conn.execute("INSERT INTO users VALUES ($1, $2, 'x', $3)", user, f"{name}@example.com", NOW)
        await conn.execute("INSERT INTO todo_lists VALUES ($1, $2, 'Inbox', $3, $3, 1)", lst, user, NOW)
        rows: list[tuple[object, ...]] = [
            (uuid.uuid4(), user, lst, "t", "", False, None, None, 0, [], n, NOW, NOW, 1) for n in range(held)
        ]
        await conn.executemany(f"INSERT INTO todos ({TODO_COLUMNS}) VALUES ({_params(14)})", rows)
        made[name] = (user, lst)
    await conn.execute("VACUUM ANALYZE")  # what autovacuum keeps: index-only scans
    return made


def _params(n: int) -> str:
    return ", ".join(f"${i}" for i in range(1, n + 1))


def _place_args(user: uuid.UUID, lst: uuid.UUID) -> tuple[object, ...]:
    return (uuid.uuid4(), user, lst, "t", "", False, None, None, 0, [], None, NOW, NOW, 1)


async def _create(conn: Any, account: tuple[uuid.UUID, uuid.UUID]) -> float:
    started = time.perf_counter()
    await conn.fetchrow(PLACE_IN_LIST, *_place_args(*account))
    return time.perf_counter() - started


async def _burst(url: str, account: tuple[uuid.UUID, uuid.UUID], seconds: float = 2.0, clients: int = 8) -> float:
    conns = [await asyncpg.connect(url) for _ in range(clients)]
    done = 0
    stop = time.perf_counter() + seconds

    async def client(conn: Any) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await conn.fetchrow(PLACE_IN_LIST, *_place_args(*account))
            done += 1

    try:
        started = time.perf_counter()
        await asyncio.gather(*(client(c) for c in conns))
        return done / (time.perf_counter() - started)
    finally:
        for c in conns:
            await c.close()


async def main(admin: str) -> None:
    conn = await asyncpg.connect(admin)
    await conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
    await conn.execute(f"CREATE DATABASE {DATABASE}")
    await conn.close()
    base = f"{admin.rsplit('/', 1)[0]}/{DATABASE}"
    try:
        urls = {"counted": await _schema(base, "counted", None), "walked": await _schema(base, "walked", 50)}
        conns = {name: await asyncpg.connect(url) for name, url in urls.items()}
        accounts = {name: await _accounts(c) for name, c in conns.items()}
        counted, made = conns["counted"], accounts["counted"]
        print("1. reads (counted schema, in turn)")
        small, full = made["small"][0], made["full"][0]
        # The worst case: the full account's count in all 16 slots (as after creates from 16 connections).
        await counted.execute("DELETE FROM todo_counts WHERE owner_id = $1", full)
        slots = [(full, slot, QUOTA // 16) for slot in range(16)]
        await counted.executemany("INSERT INTO todo_counts (owner_id, slot, todos) VALUES ($1, $2, $3)", slots)
        await counted.execute("VACUUM ANALYZE todo_counts")
        assert await counted.fetchval(TODO_COUNT, full) == QUOTA
        reads = await _reads(
            counted,
            {
                "SELECT 1": ("SELECT 1", ()),
                "walk, 50 todos": (WALK, (small, QUOTA)),
                "counter, 50 todos": (TODO_COUNT, (small,)),
                f"walk, {QUOTA:,} todos": (WALK, (full, QUOTA)),
                f"counter, {QUOTA:,} todos in 16 slots": (TODO_COUNT, (full,)),
            },
        )
        for name, t in reads.items():
            print(f"  {name}: {_ms(t)}")
        print("2. one create, autocommit (300 each, alternating)")
        times: dict[str, list[float]] = {"counted": [], "walked": []}
        for n in range(RUNS):
            for name in ("counted", "walked") if n % 2 else ("walked", "counted"):
                times[name].append(await _create(conns[name], accounts[name]["writer"]))
        for name, t in times.items():
            print(f"  {name}: {_ms(t)}")
        diff = statistics.median(a - b for a, b in zip(times["counted"], times["walked"], strict=True))
        print(f"  paired difference counted - walked: median {diff * 1000:+.3f} ms")
        print("3. one account, 8 connections, 2 s a round")
        rates: dict[str, list[float]] = {"counted": [], "walked": []}
        for _ in range(3):
            for name in rates:
                rates[name].append(await _burst(urls[name], accounts[name]["writer"]))
        for name, r in rates.items():
            print(f"  {name}: {', '.join(f'{x:,.0f}' for x in r)} creates/s (median {statistics.median(r):,.0f})")
        for c in conns.values():
            await c.close()
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/postgres"))
