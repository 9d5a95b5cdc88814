"""``todostack bench --scale``: the cost of each request as the data grows (10 k → 1 M → 5 M todos).

For each backend (``--backends``; SQLite up to ``--sqlite-scale-max`` rows) and each size: a
fresh database seeded by ``bench.scale_data`` (the heavy user gets up to 100,000 todos in one
list, the rest go to 10,000 more users; the seed ends vacuumed and analysed), then wrk measures,
one scenario after another at the same connection count: ``get-one``, ``list-first`` (first
page), ``list-deep`` (the page 50 pages into the heavy list, by cursor), ``search`` (``q``,
``tag`` and ``due_before`` in turn), ``create`` and ``patch``. ``bench.scale_report`` writes a
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
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from todostack.bench.scale_data import fresh_database, prepare, scripts
from todostack.bench.scale_report import SCALE_SCENARIOS, write_scale_report
from todostack.bench.seed import seed_patch_pool
from todostack.bench.servers import serve_todostack
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


def _run_size(
    args: argparse.Namespace, backend: str, todos: int, tmp: Path, runs: list[dict[str, Any]]
) -> dict[str, Any]:
    database_url = fresh_database(backend, args.postgres_url, args.scale_database, tmp, todos)
    threads = max(1, min(os.cpu_count() or 1, 4))
    conns = int(args.connections.split(",")[0])
    log = tmp / f"scale-{backend}-{todos}.log"
    # Data this skewed is what force_custom_plan is for (TODOSTACK_DB_PLAN_CACHE_MODE).
    extra = {"TODOSTACK_AUTOPROF_ENABLED": "off", "TODOSTACK_DB_PLAN_CACHE_MODE": "force_custom_plan"}
    with serve_todostack(database_url, log, workers=args.workers, extra=extra) as server:
        print(f"scale: {backend}, {todos:,} todos", file=sys.stderr)
        heavy = min(args.heavy_todos, todos // 2)
        prep = asyncio.run(prepare(server.url, database_url, todos, heavy, args.scale_users))
        made = scripts(prep, tmp)
        load = os.getloadavg()[0]
        vacuums = asyncio.run(_vacuums(database_url))
        for scenario in args.scenarios_scale:
            for round_ in ["warmup", *range(1, args.repeats + 1)]:
                if scenario == "patch":
                    users = [(token, lst, prep["samples"][lst][:10]) for lst, token in prep["accounts"]]
                    workload = asyncio.run(seed_patch_pool(server.url, Workload(users, []), max(2 * conns, 64)))
                    script = script_for("patch", workload, threads, tmp)
                else:
                    script = made[scenario]
                seconds = args.warmup if round_ == "warmup" else args.duration
                result: WrkResult = run_wrk(server.url, script, connections=conns, threads=threads, seconds=seconds)
                if round_ == "warmup":
                    continue
                print(
                    f"  {todos:>9,} {scenario:<11} #{round_}: {result.rps:8.0f} req/s  p99 {result.p99_ms:7.2f} ms"
                    f"  p99.9 {result.p999_ms:7.2f} ms  max {result.max_ms:7.1f} ms  non-2xx {result.non_2xx}",
                    file=sys.stderr,
                )
                runs.append(
                    {
                        "backend": backend,
                        "rows": todos,
                        "scenario": scenario,
                        "connections": conns,
                        "repeat": round_,
                        **asdict(result),
                    }
                )
        after = asyncio.run(_vacuums(database_url))
    autovacuums = None if vacuums is None or after is None else after - vacuums
    return {
        "backend": backend,
        "rows": todos,
        "seed_seconds": prep["seed_seconds"],
        "load": load,
        "autovacuums": autovacuums,
    }


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
        "runs": [],
        "sizes": [],
    }
    with tempfile.TemporaryDirectory(prefix="todostack-scale-") as tmp_name:
        tmp = args.log_dir or Path(tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        for backend in backends:
            for todos in sizes:
                if backend == "sqlite" and todos > args.sqlite_scale_max:
                    continue
                results["sizes"].append(_run_size(args, backend, todos, tmp, results["runs"]))
                if backend == "sqlite":  # a 1 M-row file is ~0.5 GB: not kept beside the next
                    for leftover in tmp.glob(f"scale-{todos}.db*"):
                        leftover.unlink()
    results["elapsed_seconds"] = round(time.monotonic() - started, 1)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-scale.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {out}", file=sys.stderr)
    if str(args.docs) != "-":
        write_scale_report(results, out, args.docs)
    return 0
