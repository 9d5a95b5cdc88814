"""A/B: two service environments, one scenario, alternating rounds on the same seeded database.

A difference of a few per cent is below the noise between two separate ``todostack bench`` runs on
a shared machine (±15 %), so this alternates A and B (fresh server each time, same data, same
warm-up), and reports each side's medians (req/s, p99, worker RSS after the run, start time) and
the median of the per-round ratios B/A. Writes JSON to bench/results/ and a section of
docs/benchmarks.md named by ``--section``.

    .venv/bin/python bench/ab.py --section "autoprof idle overhead" \\
        --a autoprof-on:TODOSTACK_AUTOPROF_ENABLED=on --b autoprof-off:TODOSTACK_AUTOPROF_ENABLED=off
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shlex
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from todostack.bench.machine import fresh_postgres, machine
from todostack.bench.report import replace_section
from todostack.bench.run import _migrate
from todostack.bench.seed import seed
from todostack.bench.servers import otlp_sink, serve_todostack
from todostack.bench.wrk import run_wrk, script_for
from todostack.runtime import Settings, size_service


def _variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, assignments = text.partition(":")
    env = dict(item.split("=", 1) for item in assignments.split(",") if item)
    return name, env


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="NAME:KEY=VALUE,KEY=VALUE (the reference)")
    parser.add_argument("--b", required=True, help="NAME:KEY=VALUE,...")
    parser.add_argument("--section", required=True, help="the heading in docs/benchmarks.md to (re)write")
    parser.add_argument("--scenario", default="get-one")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--docs", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument(
        "--otlp-sink", action="store_true", help="run a local OTLP/HTTP sink; '{otlp}' in a variant is its URL"
    )
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(otlp_sink()) if args.otlp_sink else ""
        variants = [_variant(args.a.replace("{otlp}", sink)), _variant(args.b.replace("{otlp}", sink))]
        shown = [_variant(args.a), _variant(args.b)]  # as asked for: "{otlp}", not the sink's port
        return _compare(args, argv, variants, shown)


def _compare(
    args: argparse.Namespace,
    argv: list[str],
    variants: list[tuple[str, dict[str, str]]],
    shown: list[tuple[str, dict[str, str]]],
) -> int:
    workers = size_service(Settings.from_env(os.environ)).workers
    threads = max(1, min(os.cpu_count() or 1, 4))
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="todostack-ab-") as tmp_name:
        tmp = Path(tmp_name)
        database_url, _ = asyncio.run(fresh_postgres(args.postgres_url))
        _migrate(database_url)
        with serve_todostack(database_url, tmp / "seed.log", workers=workers) as server:
            workload = asyncio.run(seed(server.url, users=10, todos_per_user=200))
        script = script_for(args.scenario, workload, threads, tmp)
        for n in range(1, args.rounds + 1):
            # Alternate which side goes first, so a drift in the machine's load favours neither.
            order = variants if n % 2 else variants[::-1]
            row: dict[str, Any] = {"round": n, "load_average_before": round(os.getloadavg()[0], 2)}
            for name, env in order:
                spawned = time.monotonic()
                with serve_todostack(database_url, tmp / f"{name}.log", workers=workers, extra=env) as server:
                    ready_s = time.monotonic() - spawned  # spawn to the first 200 on /readyz
                    run_wrk(server.url, script, connections=args.connections, threads=threads, seconds=2)
                    result = run_wrk(
                        server.url, script, connections=args.connections, threads=threads, seconds=args.seconds
                    )
                    rss_mib = max(w.rss_bytes for w in server.workers()) / 2**20
                row[name] = {
                    "rps": round(result.rps, 1),
                    "p99_ms": result.p99_ms,
                    "errors": result.errors,
                    "worker_rss_mib": round(rss_mib, 1),
                    "ready_s": round(ready_s, 2),
                }
                print(
                    f"round {n} {name:>14}: {result.rps:8.0f} req/s  p99 {result.p99_ms:.1f} ms  "
                    f"RSS {rss_mib:.1f} MiB  ready {ready_s:.2f} s",
                    file=sys.stderr,
                )
            rounds.append(row)
    (a, _), (b, _) = variants
    ratios = [r[b]["rps"] / r[a]["rps"] for r in rounds]
    summary = {
        "a": a,
        "b": b,
        "median_rps": {v: statistics.median(r[v]["rps"] for r in rounds) for v in (a, b)},
        "median_p99_ms": {v: statistics.median(r[v]["p99_ms"] for r in rounds) for v in (a, b)},
        "median_worker_rss_mib": {v: statistics.median(r[v]["worker_rss_mib"] for r in rounds) for v in (a, b)},
        "median_ready_s": {v: statistics.median(r[v]["ready_s"] for r in rounds) for v in (a, b)},
        "median_ratio_b_over_a": round(statistics.median(ratios), 4),
        "ratios": [round(x, 4) for x in ratios],
    }
    results = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python bench/ab.py " + shlex.join(argv),
        "machine": machine(),
        "workers": workers,
        "scenario": args.scenario,
        "connections": args.connections,
        "seconds": args.seconds,
        "variants": dict(shown),
        "rounds": rounds,
        "summary": summary,
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path("bench/results") / f"{stamp}-ab-{a}-vs-{b}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    slug = re.sub(r"[^a-z0-9]+", "-", args.section.lower()).strip("-")
    lines = [
        f"<!-- ab-{slug}:start (regenerated by bench/ab.py) -->",
        f"`{results['command']}`: {args.rounds} alternating rounds of `{args.scenario}`, {args.connections} "
        f"connections, {args.seconds:g} s each after a 2 s warm-up, {workers} worker(s), a fresh server per run. "
        f"Raw: `{out.as_posix()}`.",
        "",
        "| variant | environment | req/s per round | median req/s | median p99 ms | median worker RSS MiB "
        "after the run | median start s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, env in shown:
        listed = ", ".join(f"`{k}={v}`" for k, v in env.items()) or "default"
        per_round = " / ".join(f"{r[name]['rps']:,.0f}" for r in rounds)
        lines.append(
            f"| {name} | {listed} | {per_round} | {summary['median_rps'][name]:,.0f} "
            f"| {summary['median_p99_ms'][name]:.1f} | {summary['median_worker_rss_mib'][name]:.1f} "
            f"| {summary['median_ready_s'][name]:.2f} |"
        )
    lines += [
        "",
        f"Median of the per-round ratios {b}/{a}: **{summary['median_ratio_b_over_a']:.3f}** "
        f"(rounds: {', '.join(f'{x:.3f}' for x in ratios)}).",
        f"<!-- ab-{slug}:end -->",
    ]
    replace_section(args.docs, lines, args.section)
    print(f"results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
