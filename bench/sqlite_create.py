"""What a create costs SQLite itself as the table grows, and what makes it dear: the ``q`` index
(FTS5 trigram, migrations 0040 and 0060) and the WAL checkpoint.

    .venv/bin/python bench/sqlite_create.py [--sizes 10000,1000000] [--rounds 3] [--creates 3000]

Seeds one file per size with the scale benchmark's rows (``todostack.bench.bulk_sqlite``), migrated
up to 0050: the ``q`` index as 0040 made it. Each variant is a copy of that file:

- ``0040 index``: as seeded; SQLite checkpoints in the commit past 1,000 pages of WAL (its default,
  and the service's before ``4cdc490``);
- ``0060 index``: migration 0060 applied (no positions, no text lengths), same checkpoints;
- ``0060 index, pool checkpoints``: as the service runs now, request connections at
  ``wal_autocheckpoint = WAL_BACKSTOP_PAGES`` and a thread checkpointing every
  ``CHECKPOINT_SECONDS`` on a connection of its own (passive, then restarting past
  ``RESTART_FRAMES``);
- ``no q index``: 0040's insert trigger dropped, for reference.

Migration 0060 is applied to each size's seed as the migrator applies it (one ``BEGIN IMMEDIATE``
transaction, which holds every write back), and its time is printed: what an upgrade of a file
that size costs. ``--rounds 0`` stops there.

A round runs ``--creates`` creates in each variant at each size, in an order rotated from round to
round: the service's statement (``_OWN_LIST``) in a ``BEGIN IMMEDIATE`` transaction each, from 4
connections in turn, into 200 random lists. Printed and written to ``bench/results``: µs per create
(wall time over the round) and the round's p99, medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from todostack.adapters.migrations import load_migrations
from todostack.adapters.sqlite.database import (
    CHECKPOINT_SECONDS,
    RESTART_FRAMES,
    RESTART_WAIT_MS,
    connection_pragmas,
)
from todostack.adapters.sqlite.todos import _OWN_LIST
from todostack.bench.bulk_sqlite import bulk_seed_sqlite
from todostack.bench.servers import BENCH_QUOTA_TODOS

VARIANTS = ("0040 index", "0060 index", "0060 index, pool checkpoints", "no q index")
LEAN = next(m for m in load_migrations("sqlite") if m.version == 60)


def _seed(directory: Path, todos: int) -> Path:
    """A file at ``todos`` rows, migrated up to 0050 (as a release before 0060 left it)."""
    path = directory / f"seed-{todos}.db"
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        for migration in load_migrations("sqlite"):
            if migration.version < LEAN.version:
                db.executescript(migration.sql)
        now = datetime.now(UTC).isoformat()
        user, lst = str(uuid.uuid4()), str(uuid.uuid4())
        db.execute("INSERT INTO users (id, email, password_hash, created_at) VALUES (?, ?, 'x', ?)", (user, "h@x", now))
        db.execute(
            "INSERT INTO todo_lists (id, owner_id, name, created_at, updated_at, version)"
            " VALUES (?, ?, 'Inbox', ?, ?, 1)",
            (lst, user, now, now),
        )
    finally:
        db.close()
    bulk_seed_sqlite(str(path), todos=todos, heavy_todos=min(100_000, todos // 2), heavy=(user, lst), progress=None)
    return path


def _variant(seed: Path, name: str, upgrades: list[float]) -> Path:
    """A copy of ``seed`` made into variant ``name``; the seconds 0060 took go to ``upgrades``."""
    path = seed.with_name(f"{seed.stem}-{VARIANTS.index(name)}.db")
    shutil.copy(seed, path)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        if name.startswith("0060"):
            started = time.perf_counter()
            db.executescript(f"BEGIN IMMEDIATE;\n{LEAN.sql}\nCOMMIT;")
            upgrades.append(time.perf_counter() - started)
        elif name == "no q index":
            db.execute("DROP TRIGGER todos_text_insert")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return path


def _lists(path: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT owner_id, id FROM todo_lists ORDER BY id LIMIT 200").fetchall()
    finally:
        db.close()


def _round(path: Path, pool_checkpoints: bool, lists: list[tuple[str, str]], creates: int) -> tuple[float, float]:
    """µs per create over the round, and the round's p99 in µs."""
    conns = [sqlite3.connect(path, isolation_level=None) for _ in range(4)]
    for conn in conns:
        for pragma in connection_pragmas(checkpoints=pool_checkpoints):
            conn.execute(f"PRAGMA {pragma}")
    stop = threading.Event()

    def checkpoints() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
            while not stop.wait(CHECKPOINT_SECONDS):  # as SqliteDatabase._checkpoint_forever does
                [(_, frames, _)] = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                if frames >= RESTART_FRAMES:
                    conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
        finally:
            conn.close()

    thread = threading.Thread(target=checkpoints) if pool_checkpoints else None
    if thread is not None:
        thread.start()
    rng = random.Random(7)  # noqa: S311 - the same lists each round
    now = datetime.now(UTC).isoformat()
    times = []
    started = time.perf_counter()
    try:
        for i in range(creates):
            conn = conns[i % len(conns)]
            owner, lst = lists[rng.randrange(len(lists))]
            args = (
                *(str(uuid.uuid4()), owner, lst, f"bench {i}", "", 0, None, None, 1, '["work"]', None, now, now, 1),
                BENCH_QUOTA_TODOS,  # as the service's create sends it, checked against todo_counts
            )
            one = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(_OWN_LIST, args).fetchall()
            conn.execute("COMMIT")
            times.append(time.perf_counter() - one)
        wall = time.perf_counter() - started
    finally:
        stop.set()
        if thread is not None:
            thread.join()
        for conn in conns:
            conn.close()
    times.sort()
    return wall / creates * 1e6, times[int(len(times) * 0.99)] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--creates", type=int, default=3000)
    parser.add_argument("--results-dir", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
    upgrades: dict[int, list[float]] = {todos: [] for todos in sizes}
    with tempfile.TemporaryDirectory(prefix="sqlite-create-") as tmp:
        paths: dict[tuple[str, int], Path] = {}
        for todos in sizes:
            print(f"seeding {todos:,} todos", file=sys.stderr, flush=True)
            seed = _seed(Path(tmp), todos)
            for name in VARIANTS:
                paths[(name, todos)] = _variant(seed, name, upgrades[todos])
            seed.unlink()
            took = ", ".join(f"{s:.2f} s" for s in upgrades[todos])
            print(f"migration 0060 at {todos:,} todos: {took}", flush=True)
        lists = {todos: _lists(paths[(VARIANTS[0], todos)]) for todos in sizes}
        keys = list(paths)
        for r in range(args.rounds):
            shift = r % len(keys)
            for name, todos in keys[shift:] + keys[:shift]:
                pool = name.endswith("pool checkpoints")
                runs.setdefault((name, todos), []).append(
                    _round(paths[(name, todos)], pool, lists[todos], args.creates)
                )
                print(f"round {r + 1}: {name}, {todos:,}: {runs[(name, todos)][-1]}", file=sys.stderr, flush=True)
    small, big = sizes[0], sizes[-1]
    table = {}
    if args.rounds:  # with --rounds 0, only the migration's times above
        lines = [
            f"| variant | µs per create, {small:,} | {big:,} | p99 µs, {small:,} | {big:,} | p99 {big:,} ÷ {small:,} |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for name in VARIANTS:
            us = {t: statistics.median(x[0] for x in runs[(name, t)]) for t in sizes}
            p99 = {t: statistics.median(x[1] for x in runs[(name, t)]) for t in sizes}
            table[name] = {"us_per_create": us, "p99_us": p99}
            lines.append(
                f"| {name} | {us[small]:,.0f} | {us[big]:,.0f} | {p99[small]:,.0f} | {p99[big]:,.0f}"
                f" | {p99[big] / p99[small]:.2f} |"
            )
        print("\n".join(lines))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{stamp}-sqlite-create.json"
    raw = {f"{name} @ {todos}": values for (name, todos), values in runs.items()}
    out.write_text(
        json.dumps(
            {
                "args": vars(args) | {"results_dir": str(args.results_dir)},
                "runs": raw,
                "table": table,
                "migration_0060_seconds": upgrades,
            },
            indent=2,
        )
    )
    print(f"raw: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
