"""``todostack bench --scale``: the cost of each request as the data grows (10 k → 1 M → 5 M todos).

For each backend (``--backends``; SQLite up to ``--sqlite-scale-max`` rows), each size gets a
fresh database of its own (``<--scale-database>_<rows>``) seeded by ``bench.scale_data`` (the
heavy user gets up to 100,000 todos in one list, the rest go to 10,000 more users; the seed ends
vacuumed and analysed) and a service of its own. Then wrk measures one scenario after another at
the same connection count, the sizes taking turns within each scenario: ``get-one``,
``list-first`` (first page), ``list-deep`` (the page 50 pages into the heavy list, by cursor),
``search`` (``q``, ``tag`` and ``due_before`` in turn), ``create`` and ``patch``. The
PostgreSQL databases are left for a look afterwards (``EXPLAIN``); the next run drops them.
``bench.scale_report`` writes a
table of p99 per scenario and size, the ratio of the largest size to the smallest (target at
most 1.5 times), and a plot of p99 against rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from todostack.bench.scale_data import Prepared, fresh_database, prepare, scripts
from todostack.bench.scale_report import SCALE_SCENARIOS, write_scale_report
from todostack.bench.seed import seed_patch_pool
from todostack.bench.servers import Server, serve_todostack
from todostack.bench.wrk import Workload, WrkResult, run_wrk, script_for
from todostack.runtime import Settings, size_service

__all__ = ["SCALE_SCENARIOS", "main"]


async def _vacuums(database_url: str) -> int | None:
    """Autovacuum and autoanalyze runs on ``todos`` so far: did one start during the measurement?"""
    if not database_url.startswith("postgres"):
        return None
    conn = await asyncpg.connect(database_url)
    try:
        sql = "SELECT autovacuum_count + autoanalyze_count FROM pg_stat_user_tables WHERE relname = 'todos'"
        n: int = await conn.fetchval(sql)
        return n
    finally:
        await conn.close()


@dataclass
class _Size:
    """One size of one backend, seeded and served, waiting for its turns."""

    backend: str
    todos: int
    database_url: str
    server: Server
    prep: Prepared
    directory: Path  # its wrk scripts
    scripts: dict[str, Path]
    facts: dict[str, Any]
    vacuums_before: int | None = None


def _start_size(args: argparse.Namespace, backend: str, todos: int, tmp: Path, stack: ExitStack) -> _Size:
    name = f"{args.scale_database}_{todos}"
    database_url = fresh_database(backend, args.postgres_url, name, tmp, todos)
    log = tmp / f"scale-{backend}-{todos}.log"
    # Data this skewed is what force_custom_plan is for (TODOSTACK_DB_PLAN_CACHE_MODE).
    extra = {"TODOSTACK_AUTOPROF_ENABLED": "off", "TODOSTACK_DB_PLAN_CACHE_MODE": "force_custom_plan"}
    server = stack.enter_context(serve_todostack(database_url, log, workers=args.workers, extra=extra))
    print(f"scale: {backend}, {todos:,} todos", file=sys.stderr)
    heavy = min(args.heavy_todos, todos // 2)
    prep = asyncio.run(prepare(server.url, database_url, todos, heavy, args.scale_users))
    own = tmp / f"scripts-{backend}-{todos}"
    own.mkdir(exist_ok=True)
    facts = {"backend": backend, "rows": todos, "seed_seconds": prep["seed_seconds"]}
    return _Size(backend, todos, database_url, server, prep, own, scripts(prep, own), facts)


def _measure(args: argparse.Namespace, size: _Size, scenario: str, round_: int | str) -> WrkResult:
    threads = max(1, min(os.cpu_count() or 1, 4))
    conns = int(args.connections.split(",")[0])
    if scenario == "patch":
        users = [(token, lst, size.prep["samples"][lst][:10]) for lst, token in size.prep["accounts"]]
        workload = asyncio.run(seed_patch_pool(size.server.url, Workload(users, []), max(2 * conns, 64)))
        script = script_for("patch", workload, threads, size.directory)
    else:
        script = size.scripts[scenario]
    seconds = args.warmup if round_ == "warmup" else args.duration
    return run_wrk(size.server.url, script, connections=conns, threads=threads, seconds=seconds)


def _run_backend(
    args: argparse.Namespace, backend: str, todos_sizes: list[int], tmp: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every size seeded and served at once, then each scenario measured with the sizes taking
    turns: a warm-up of each, then each repeat runs every size once, the order rotated from one
    repeat to the next. The ratio of two sizes then compares runs made within a minute of each
    other, not the two ends of a half-hour run on a shared machine."""
    runs: list[dict[str, Any]] = []
    with ExitStack() as stack:
        sizes = [_start_size(args, backend, todos, tmp, stack) for todos in todos_sizes]
        for size in sizes:
            size.vacuums_before = asyncio.run(_vacuums(size.database_url))
        for scenario in args.scenarios_scale:
            for size in sizes:
                _measure(args, size, scenario, "warmup")
            for round_ in range(1, args.repeats + 1):
                shift = (round_ - 1) % len(sizes)
                for size in sizes[shift:] + sizes[:shift]:
                    load = os.getloadavg()[0]
                    result = _measure(args, size, scenario, round_)
                    print(
                        f"  {size.todos:>9,} {scenario:<11} #{round_}: {result.rps:8.0f} req/s"
                        f"  p99 {result.p99_ms:7.2f} ms  p99.9 {result.p999_ms:7.2f} ms"
                        f"  max {result.max_ms:7.1f} ms  non-2xx {result.non_2xx}",
                        file=sys.stderr,
                    )
                    runs.append(
                        {
                            "backend": backend,
                            "rows": size.todos,
                            "scenario": scenario,
                            "connections": int(args.connections.split(",")[0]),
                            "repeat": round_,
                            "load": load,
                            **asdict(result),
                        }
                    )
        for size in sizes:
            after = asyncio.run(_vacuums(size.database_url))
            before = size.vacuums_before
            size.facts["autovacuums"] = None if before is None or after is None else after - before
    return runs, [size.facts for size in sizes]


def main(args: argparse.Namespace, argv: list[str]) -> int:
    started = time.monotonic()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    args.scenarios_scale = args.scale_scenarios.split(",")
    unknown = set(args.scenarios_scale) - set(SCALE_SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown --scale-scenarios {sorted(unknown)}: choose from {', '.join(SCALE_SCENARIOS)}")
    backends = args.backends.split(",")
    if set(backends) - {"postgresql", "sqlite"}:
        raise SystemExit(f"--backends: postgresql, sqlite or both, got {args.backends!r}")
    results: dict[str, Any] = {
        "label": "scale",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "todostack bench " + " ".join(argv),
        "workers": args.workers or size_service(Settings.from_env(dict(os.environ))).workers,
        "connections": int(args.connections.split(",")[0]),
        "interleaved": True,  # the sizes take turns (_run_backend)
        "runs": [],
        "sizes": [],
    }
    with tempfile.TemporaryDirectory(prefix="todostack-scale-") as tmp_name:
        tmp = args.log_dir or Path(tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        for backend in backends:
            todos_sizes = [t for t in sizes if backend != "sqlite" or t <= args.sqlite_scale_max]
            runs, facts = _run_backend(args, backend, todos_sizes, tmp)
            results["runs"] += runs
            results["sizes"] += facts
            if backend == "sqlite":  # a 1 M-row file is ~0.5 GB: not left in a kept --log-dir
                for leftover in tmp.glob("scale-*.db*"):
                    leftover.unlink()
    results["elapsed_seconds"] = round(time.monotonic() - started, 1)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-scale.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {out}", file=sys.stderr)
    if str(args.docs) != "-":
        write_scale_report(results, out, args.docs)
    return 0
