"""The rounds of a benchmark run: each scenario at each connection count, measured with the server's
own counters, and paired with the same round on the raw floor when there is one."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from todostack.bench.report import FLOOR_SCENARIOS
from todostack.bench.seed import seed_patch_pool
from todostack.bench.servers import Server, serve_baseline
from todostack.bench.wrk import Workload, WrkResult, run_wrk, script_for

__all__ = ["floor_round", "floor_server", "measure", "run_scenarios"]


def measure(
    server: Server, script: Path, *, connections: int, threads: int, seconds: float
) -> tuple[WrkResult, dict[str, Any]]:
    load = os.getloadavg()[0]
    answered = server.answered()
    before = {w.pid: w.cpu_seconds for w in server.workers()}
    result = run_wrk(server.url, script, connections=connections, threads=threads, seconds=seconds)
    workers = server.workers()
    # Which statuses wrk's non-2xx count stands for: the service's own counters, before and after.
    # 499 is left out: those are the requests wrk itself abandoned when its time was up.
    statuses = {
        status: count - answered.get(status, 0)
        for status, count in sorted(server.answered().items())
        if not status.startswith("2") and status != "499" and count > answered.get(status, 0)
    }
    cpu = {w.pid: round((w.cpu_seconds - before.get(w.pid, 0.0)) / result.seconds, 3) for w in workers}
    return result, {
        "load_average_before": round(load, 2),
        "worker_cpu_cores": cpu,
        "worker_hwm_mib": {w.pid: round(w.hwm_bytes / 2**20, 1) for w in workers},
        "worker_rss_mib": {w.pid: round(w.rss_bytes / 2**20, 1) for w in workers},
        "non_2xx_statuses": statuses,
    }


def run_scenarios(
    args: argparse.Namespace,
    server: Server,
    workload: Workload,
    *,
    backend: str,
    repeats: int,
    duration: float,
    tmp: Path,
    runs: list[dict[str, Any]],
    floor: Server | None = None,
) -> None:
    """Every scenario at every connection count, after a warm-up. With ``floor``, each round of
    ``get-one``, ``list`` and ``create`` at the first connection count is paired with the same
    round on the floor, run just before it: a ratio of runs minutes apart on a shared machine
    carries its drift."""
    threads = max(1, min(os.cpu_count() or 1, 4))
    connections = [int(c) for c in args.connections.split(",")]
    for scenario in args.scenarios.split(","):
        for conns in connections:
            rounds = ["warmup", *range(1, repeats + 1)]
            for round_ in rounds:
                seconds = args.warmup if round_ == "warmup" else duration
                if floor is not None and scenario in FLOOR_SCENARIOS and conns == connections[0]:
                    floor_round(floor, workload, scenario, conns, round_, seconds, tmp, runs)
                if scenario in ("patch", "mixed"):
                    # PATCH targets start at version 1 in every run: If-Match is always right.
                    workload = asyncio.run(seed_patch_pool(server.url, workload, max(2 * conns, 64)))
                script = script_for(scenario, workload, threads, tmp)
                result, usage = measure(server, script, connections=conns, threads=threads, seconds=seconds)
                if round_ == "warmup":
                    continue
                statuses = "".join(f" {status}x{n}" for status, n in usage["non_2xx_statuses"].items())
                print(
                    f"  {backend:<10} {scenario:<17} c={conns:<4} #{round_}: {result.rps:8.0f} req/s"
                    f"  p99 {result.p99_ms:6.1f} ms  errors {result.errors}  non-2xx {result.non_2xx}{statuses}",
                    file=sys.stderr,
                )
                runs.append(
                    {
                        "target": "todostack",
                        "backend": backend,
                        "scenario": scenario,
                        "connections": conns,
                        "repeat": round_,
                        **asdict(result),
                        **usage,
                    }
                )


@contextlib.contextmanager
def floor_server(database_url: str, workers: int, pool: int, loop: str, logs: Path) -> Iterator[Server | None]:
    """``bench/baseline_raw.py`` under granian (None when this is not a checkout with it)."""
    baseline = Path(__file__).resolve().parents[3] / "bench" / "baseline_raw.py"
    if not baseline.exists():
        print(f"  no {baseline}: skipping the raw floor", file=sys.stderr)
        yield None
        return
    with serve_baseline(
        database_url, logs / "baseline.log", workers=workers, pool_size=pool, loop=loop, baseline=baseline
    ) as raw:
        yield raw


def floor_round(
    floor: Server,
    workload: Workload,
    scenario: str,
    conns: int,
    round_: int | str,
    seconds: float,
    tmp: Path,
    runs: list[dict[str, Any]],
) -> None:
    """One round of ``scenario`` on the floor (the report compares at the first connection count)."""
    threads = max(1, min(os.cpu_count() or 1, 4))
    script = script_for(scenario, workload, threads, tmp)
    result, usage = measure(floor, script, connections=conns, threads=threads, seconds=seconds)
    if round_ == "warmup":
        return
    print(f"  raw floor  {scenario:<17} c={conns:<4} #{round_}: {result.rps:8.0f} req/s", file=sys.stderr)
    runs.append(
        {
            "target": "baseline_raw",
            "backend": "postgresql",
            "scenario": scenario,
            "connections": conns,
            "repeat": round_,
            **asdict(result),
            **usage,
        }
    )
