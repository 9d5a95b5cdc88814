"""What a running CPU profile costs the service, measured live (issue 24, item 4).

One ``todostack serve`` (PostgreSQL, its default workers, autoprof's own triggers off so only the
profile asked for runs), and rounds that alternate on that same server: wrk's ``get-one`` load
alone, then the same load while every worker takes a CPU profile (``/debug/pprof/profile?pid=all``,
the sampler autoprof uses, at ``TODOSTACK_AUTOPROF_CPU_HZ``). The order flips each round. Two
figures per side: req/s, and microseconds of worker CPU per request (from ``/proc``), which a
shared machine moves less than throughput. The cost is the median of the per-round ratios.

    flock /tmp/bench.lock .venv/bin/python bench/profile_overhead.py [--rounds 6] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from todostack.bench.machine import fresh_postgres, machine
from todostack.bench.report import replace_section
from todostack.bench.run import _migrate
from todostack.bench.seed import seed
from todostack.bench.servers import Server, serve_todostack
from todostack.bench.wrk import run_wrk, script_for
from todostack.runtime import Settings, size_service

DATABASE = "todostack_profile_overhead"
ADMIN_TOKEN = "profile-overhead-admin-" + "z" * 32
SECTION = "autoprof while a profile runs, live"
SIDES = ("idle", "profiling")


def _one_side(server: Server, script: Path, seconds: float, profiling: bool, connections: int) -> dict[str, Any]:
    load = round(os.getloadavg()[0], 2)
    run_wrk(server.url, script, connections=connections, threads=2, seconds=2)
    with ThreadPoolExecutor(1) as pool:
        # The profile spans the measured run: asked for first, it outlasts wrk by a second.
        fetch = pool.submit(server.cpu_profile, int(seconds) + 1, ADMIN_TOKEN) if profiling else None
        before = sum(w.cpu_seconds for w in server.workers())
        result = run_wrk(server.url, script, connections=connections, threads=2, seconds=seconds)
        cpu = sum(w.cpu_seconds for w in server.workers()) - before
        profile_bytes = len(fetch.result()) if fetch is not None else None
    return {
        "rps": round(result.rps, 1),
        "p99_ms": result.p99_ms,
        "errors": result.errors,
        "cpu_us_per_request": round(cpu / max(result.requests, 1) * 1e6, 1),
        "profile_bytes": profile_bytes,
        "load_average_before": load,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--scenario", default="get-one")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--docs", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args(argv)
    settings = Settings.from_env(os.environ)
    workers = size_service(settings).workers
    database_url, _ = asyncio.run(fresh_postgres(args.postgres_url, DATABASE))
    _migrate(database_url)
    env = {"TODOSTACK_AUTOPROF_ENABLED": "off", "TODOSTACK_ADMIN_TOKEN": ADMIN_TOKEN}
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="todostack-profile-overhead-") as name:
        tmp = Path(name)
        with serve_todostack(database_url, tmp / "seed.log", workers=workers) as server:
            workload = asyncio.run(seed(server.url, users=10, todos_per_user=200))
        script = script_for(args.scenario, workload, 2, tmp)
        with serve_todostack(database_url, tmp / "svc.log", workers=workers, extra=env) as server:
            for n in range(1, args.rounds + 1):
                row: dict[str, Any] = {"round": n}
                for side in SIDES if n % 2 else SIDES[::-1]:
                    row[side] = _one_side(server, script, args.seconds, side == "profiling", args.connections)
                    print(
                        f"round {n} {side:>9}: {row[side]['rps']:8.0f} req/s, "
                        f"{row[side]['cpu_us_per_request']:.0f} µs CPU a request",
                        file=sys.stderr,
                    )
                rounds.append(row)
    rps_ratios = [r["profiling"]["rps"] / r["idle"]["rps"] for r in rounds]
    cpu_ratios = [r["profiling"]["cpu_us_per_request"] / r["idle"]["cpu_us_per_request"] for r in rounds]
    results = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python bench/profile_overhead.py " + shlex.join(argv),
        "machine": machine(),
        "workers": workers,
        "cpu_hz": settings.profiling.cpu_hz,
        "scenario": args.scenario,
        "connections": args.connections,
        "seconds": args.seconds,
        "rounds": rounds,
        "summary": {
            "median_rps_ratio": round(statistics.median(rps_ratios), 4),
            "median_cpu_ratio": round(statistics.median(cpu_ratios), 4),
            "rps_ratios": [round(x, 4) for x in rps_ratios],
            "cpu_ratios": [round(x, 4) for x in cpu_ratios],
        },
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path("bench/results") / f"{stamp}-profile-overhead.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    replace_section(args.docs, _report(results, out), SECTION)
    print(f"results: {out}", file=sys.stderr)
    return 0


def _report(results: dict[str, Any], out: Path) -> list[str]:
    rounds, summary = results["rounds"], results["summary"]
    lines = [
        "<!-- profile-overhead:start (regenerated by bench/profile_overhead.py) -->",
        f"`{results['command']}`: one server ({results['workers']} workers, PostgreSQL), `{results['scenario']}` at "
        f"{results['connections']} connections, {len(rounds)} rounds alternating a plain run with a run during which "
        f"every worker takes a CPU profile at {results['cpu_hz']} Hz (`/debug/pprof/profile?pid=all`), "
        f"{results['seconds']:g} s each after a 2 s warm-up. Raw: `{out.as_posix()}`.",
        "",
        "| round | load average before | req/s idle | req/s profiling | ratio | worker CPU µs a request idle "
        "| profiling | ratio |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r, rps, cpu in zip(rounds, summary["rps_ratios"], summary["cpu_ratios"], strict=True):
        idle, prof = r["idle"], r["profiling"]
        lines.append(
            f"| {r['round']} | {idle['load_average_before']:.2f} | {idle['rps']:,.0f} | {prof['rps']:,.0f} | {rps:.3f} "
            f"| {idle['cpu_us_per_request']:.0f} | {prof['cpu_us_per_request']:.0f} | {cpu:.3f} |"
        )
    lines += [
        "",
        f"Medians of the per-round ratios, profiling ÷ idle: throughput **{summary['median_rps_ratio']:.3f}**, "
        f"worker CPU per request **{summary['median_cpu_ratio']:.3f}**. Target: at most 5 % of throughput lost "
        "while a profile runs.",
        "<!-- profile-overhead:end -->",
    ]
    return lines


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
