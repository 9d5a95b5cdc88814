"""What the per-account todo quota costs a create: the bounded count it adds, on PostgreSQL.

    .venv/bin/python bench/quota_count.py [postgresql://postgres@127.0.0.1:5432/test]

A throwaway schema with the todos table's owner index, one account holding 50 todos and one at
the default quota (10,000); the median and p90 of 300 counts each, beside ``SELECT 1`` (the round
trip alone). Figures in docs/security.md ("Resource limits"). Since migration 0050 the quota reads
per-account counts instead of this walk: ``bench/todo_counts.py`` measures both, and the counts'
cost on a create.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid

import asyncpg

QUOTA = 10_000
RUNS = 300
COUNT = "SELECT count(*) FROM (SELECT 1 FROM todos WHERE owner_id = $1 LIMIT $2) AS held"


async def _timed(conn: asyncpg.Connection, sql: str, *args: object) -> tuple[float, float]:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        await conn.fetchval(sql, *args)
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times) * 1000, times[int(RUNS * 0.9)] * 1000


async def main(url: str) -> None:
    conn = await asyncpg.connect(url)
    schema = f"quota_bench_{uuid.uuid4().hex[:8]}"
    try:
        await conn.execute(f"CREATE SCHEMA {schema}; SET search_path = {schema}")
        await conn.execute(
            "CREATE TABLE todos (id uuid PRIMARY KEY, owner_id uuid, list_id uuid, position bigint);"
            "CREATE INDEX ON todos (owner_id, position, id)"
        )
        small, full = uuid.uuid4(), uuid.uuid4()
        rows = [(uuid.uuid4(), full, full, n) for n in range(QUOTA)] + [
            (uuid.uuid4(), small, small, n) for n in range(50)
        ]
        await conn.executemany("INSERT INTO todos VALUES ($1, $2, $3, $4)", rows)
        await conn.execute("VACUUM ANALYZE todos")  # what autovacuum keeps: index-only scans
        print("SELECT 1: median %.3f ms, p90 %.3f ms" % await _timed(conn, "SELECT 1"))
        for owner, name in ((small, "50 todos"), (full, f"{QUOTA:,} todos (at the quota)")):
            print(f"count, {name}: median %.3f ms, p90 %.3f ms" % await _timed(conn, COUNT, owner, QUOTA))
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/test"))
