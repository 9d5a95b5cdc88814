"""The benchmark run: databases, servers, scenarios, repeats, and the results file."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg

from todostack.bench.options import BENCH_DATABASE
from todostack.bench.report import FLOOR_SCENARIOS, write_report
from todostack.bench.seed import seed, seed_patch_pool
from todostack.bench.servers import Server, cold_start_seconds, otlp_sink, serve_baseline, serve_todostack
from todostack.bench.wrk import Workload, WrkResult, run_wrk, script_for
from todostack.runtime import Settings, size_service

__all__ = ["main"]


def _machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model,
        "memory_gib": round(int(meminfo[1]) / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _versions(pg_version: str | None) -> dict[str, str]:
    names = ("todostack", "litestar", "msgspec", "granian", "asyncpg", "aiosqlite")
    versions = {name: metadata.version(name) for name in names}
    for optional in ("uvicorn", "uvloop"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[optional] = metadata.version(optional)
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("\n", 1)[0]
    versions["wrk"] = wrk.split(" [", 1)[0].removeprefix("wrk ").strip() or "?"
    if pg_version:
        versions["postgresql"] = pg_version
    return versions


async def _fresh_postgres(admin_url: str) -> tuple[str, str]:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {BENCH_DATABASE}")
        version: str = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{BENCH_DATABASE}", version.split(" ", 1)[0]


def _migrate(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "todostack", "migrate"],
        env={**os.environ, "TODOSTACK_DATABASE_URL": database_url},
        check=True,
        capture_output=True,
    )


def _measure(
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


def _scenarios(
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
                    _floor_round(floor, workload, scenario, conns, round_, seconds, tmp, runs)
                if scenario in ("patch", "mixed"):
                    # PATCH targets start at version 1 in every run: If-Match is always right.
                    workload = asyncio.run(seed_patch_pool(server.url, workload, max(2 * conns, 64)))
                script = script_for(scenario, workload, threads, tmp)
                result, usage = _measure(server, script, connections=conns, threads=threads, seconds=seconds)
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
def _floor_server(database_url: str, workers: int, pool: int, loop: str, logs: Path) -> Iterator[Server | None]:
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


def _floor_round(
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
    result, usage = _measure(floor, script, connections=conns, threads=threads, seconds=seconds)
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


def _run_backends(
    args: argparse.Namespace, results: dict[str, Any], extra: dict[str, str], workers: int, pool: int, loop: str
) -> None:
    with tempfile.TemporaryDirectory(prefix="todostack-bench-") as tmp_name:
        tmp = Path(tmp_name)
        logs = args.log_dir or tmp
        logs.mkdir(parents=True, exist_ok=True)
        for backend in args.backends.split(","):
            if backend == "postgresql":
                database_url, results["_pg_version"] = asyncio.run(_fresh_postgres(args.postgres_url))
                _migrate(database_url)
                repeats, duration = args.repeats, args.duration
            else:
                database_url = f"sqlite:///{tmp}/bench.db"
                repeats, duration = args.sqlite_repeats, args.sqlite_duration
            print(f"{backend}: {workers} worker(s)", file=sys.stderr)
            colds = [cold_start_seconds(database_url, logs / "cold.log", workers=workers) for _ in range(3)]
            results["cold_start_seconds"][backend] = round(statistics.median(colds), 3)
            with contextlib.ExitStack() as servers:
                server = servers.enter_context(
                    serve_todostack(database_url, logs / f"{backend}.log", workers=workers, extra=extra)
                )
                workload = asyncio.run(seed(server.url, users=args.users, todos_per_user=args.todos))
                floor = None
                if backend == "postgresql" and not args.no_baseline:
                    # Up beside the service (idle while the other runs), interleaved with get-one.
                    floor = servers.enter_context(_floor_server(database_url, workers, pool, loop, logs))
                _scenarios(
                    args,
                    server,
                    workload,
                    backend=backend,
                    repeats=repeats,
                    duration=duration,
                    tmp=tmp,
                    runs=results["runs"],
                    floor=floor,
                )
                if floor is not None and not set(FLOOR_SCENARIOS) & set(args.scenarios.split(",")):
                    conns = int(args.connections.split(",")[0])
                    for round_ in ["warmup", *range(1, repeats + 1)]:
                        seconds = args.warmup if round_ == "warmup" else duration
                        _floor_round(floor, workload, "get-one", conns, round_, seconds, tmp, results["runs"])
                results["rss_after_mib"] = {
                    **results.get("rss_after_mib", {}),
                    backend: [round(w.rss_bytes / 2**20, 1) for w in server.workers()],
                }


def main(args: argparse.Namespace, argv: list[str]) -> int:
    if args.scale:
        from todostack.bench.scale import main as scale

        return scale(args, argv)
    started = time.monotonic()
    extra = dict(item.split("=", 1) for item in args.env)
    if args.gc == "tuned":
        extra.setdefault("TODOSTACK_GC_THRESHOLD", "7000")
    if args.autoprof == "off":
        extra.setdefault("TODOSTACK_AUTOPROF_ENABLED", "off")
    if args.asgi_server != "granian":
        extra.setdefault("TODOSTACK_ASGI_SERVER", args.asgi_server)
    if args.event_loop != "uvloop":
        extra.setdefault("TODOSTACK_EVENT_LOOP", args.event_loop)
    settings = Settings.from_env({**os.environ, **extra})
    sizing = size_service(settings)
    workers = args.workers or sizing.workers
    results: dict[str, Any] = {
        "label": args.label,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "todostack bench " + shlex.join(argv),
        "machine": _machine(),
        "workers": workers,
        "service_env": extra,
        "runs": [],
        "cold_start_seconds": {},
    }
    with contextlib.ExitStack() as stack:
        if args.tracing != "off":
            extra["OTEL_EXPORTER_OTLP_ENDPOINT"] = stack.enter_context(otlp_sink())
            extra["OTEL_TRACES_SAMPLER_ARG"] = args.tracing
        results["service_env"] = extra
        _run_backends(args, results, extra, workers, sizing.db_pool_size, settings.server.event_loop)
        pg_version = results.pop("_pg_version", None)
    results["versions"] = _versions(pg_version)
    results["elapsed_seconds"] = round(time.monotonic() - started, 1)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.results_dir / f"{stamp}-{args.label}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {out}", file=sys.stderr)
    if str(args.docs) != "-":
        write_report(results, out, args.docs)
        print(f"report: {args.docs}", file=sys.stderr)
    return 0
