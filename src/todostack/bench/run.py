"""The benchmark run: databases, servers, scenarios, repeats, and the results file (the rounds are in
``rounds``, what the file records about the machine in ``machine``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from todostack.bench.machine import fresh_postgres, machine, versions
from todostack.bench.report import FLOOR_SCENARIOS, write_report
from todostack.bench.rounds import floor_round, floor_server, run_scenarios
from todostack.bench.seed import seed
from todostack.bench.servers import cold_start_seconds, otlp_sink, serve_todostack
from todostack.runtime import Settings, size_service

__all__ = ["main"]


def _migrate(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "todostack", "migrate"],
        env={**os.environ, "TODOSTACK_DATABASE_URL": database_url},
        check=True,
        capture_output=True,
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
                database_url, results["_pg_version"] = asyncio.run(fresh_postgres(args.postgres_url))
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
                    floor = servers.enter_context(floor_server(database_url, workers, pool, loop, logs))
                run_scenarios(
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
                        floor_round(floor, workload, "get-one", conns, round_, seconds, tmp, results["runs"])
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
        "machine": machine(),
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
    results["versions"] = versions(pg_version)
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
