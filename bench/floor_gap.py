"""Where a worker's CPU goes, per request, in the service and in its floor (``baseline_raw.py``).

For each scenario (``get-one``, ``list``, ``create``), in alternating rounds, the service and the
floor each serve wrk's load (PostgreSQL, the same seeded database, same workers, 32 connections)
while ``perf record -e cpu-clock`` samples their workers. ``perf`` counts CPU only (a runnable
thread waiting for a core is not sampled) and splits it by shared object: the kernel, the
interpreter, granian, uvloop, asyncpg, msgspec... The service's interpreter time is split again
by Python module from its own ``/debug/pprof`` CPU profile (``SIGPROF``: time spent in C is charged
to the Python function that runs next, so read that split as approximate). Every figure is
microseconds of worker CPU per request, so the two sides compare although the machine is shared.

    flock /tmp/bench.lock .venv/bin/python bench/floor_gap.py [--seconds 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from todostack.bench.machine import fresh_postgres, machine
from todostack.bench.report import replace_section
from todostack.bench.run import _migrate
from todostack.bench.seed import seed
from todostack.bench.servers import Server, serve_baseline, serve_todostack
from todostack.bench.wrk import run_wrk, script_for
from todostack.profiling.pprof import decode
from todostack.runtime import Settings, size_service

DATABASE = "todostack_floor_gap"
ADMIN_TOKEN = "floor-gap-admin-" + "z" * 32
SCENARIOS = ("get-one", "list", "create")

# perf's shared objects, grouped (first match wins).
_DSO = (
    ("kernel (system calls, TCP)", re.compile(r"\[kernel")),
    ("Python interpreter", re.compile(r"libpython|^python")),
    ("granian (Rust)", re.compile(r"_granian")),
    ("uvloop (libuv)", re.compile(r"uvloop|^loop\.cpython")),
    ("asyncpg (Cython)", re.compile(r"protocol\.cpython|pgproto|asyncpg")),
    ("msgspec", re.compile(r"msgspec|_core\.cpython")),
    ("HMAC, hashing (OpenSSL)", re.compile(r"libcrypto|_hashlib|_hmac")),
    ("libc, allocator", re.compile(r"libc\.so|ld-linux|libm\.so")),
)
# The service's Python time by the innermost frame's file (first match wins).
_MODULE = (
    # The collector's callback (GcWatch) is the first Python to run after each collection.
    ("garbage collector", re.compile(r"observability/process\.py$")),
    ("granian, event loop", re.compile(r"/granian/|/asyncio/|/uvloop/")),
    ("Litestar", re.compile(r"/litestar/")),
    ("metrics, logs, probes", re.compile(r"todostack/(observability|ebpf)/|/prometheus_client/|/structlog/")),
    ("authentication", re.compile(r"todostack/adapters/tokens\.py$|todostack/usecases/auth\.py$")),
    ("HTTP layer (middleware, routes, schemas)", re.compile(r"todostack/delivery/|todostack/context/")),
    ("use cases, domain", re.compile(r"todostack/(usecases|domain)/")),
    ("repositories (SQL, rows to objects)", re.compile(r"todostack/adapters/")),
    ("asyncpg (Python part)", re.compile(r"/asyncpg/")),
    ("msgspec", re.compile(r"/msgspec/")),
)


def _group(name: str, table: tuple[tuple[str, re.Pattern[str]], ...]) -> str:
    return next((label for label, pattern in table if pattern.search(name)), "other (stdlib, ...)")


def perf_split(data: Path) -> dict[str, float]:
    """Shares of the sampled CPU by shared-object group (0..1)."""
    out = subprocess.run(
        ["perf", "report", "-i", str(data), "--sort", "dso", "--stdio", "-q"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    shares: dict[str, float] = {}
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0].endswith("%"):
            group = _group(parts[1].strip(), _DSO)
            shares[group] = shares.get(group, 0.0) + float(parts[0].rstrip("%")) / 100
    return shares


def _pprof_split(data: bytes) -> dict[str, float]:
    """Shares of the service's sampled Python CPU by module group (0..1), main thread and others."""
    profile = decode(data)
    index = profile.value_index("cpu")
    totals: Counter[str] = Counter()
    for (stack, _labels), values in profile.samples.items():
        leaf = stack[0].filename if stack else ""
        totals[_group(leaf, _MODULE)] += values[index]
    whole = sum(totals.values()) or 1
    return {k: v / whole for k, v in totals.items()}


def start_perf(pids: list[int], seconds: float, data: Path) -> subprocess.Popen[bytes]:
    """``perf record`` of these processes' CPU (cpu-clock, 499 Hz) for ``seconds``, into ``data``."""
    record = f"perf record -q -e cpu-clock -F 499 -p {','.join(map(str, pids))} -o {data} -- sleep {seconds}"
    return subprocess.Popen(record.split(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _one_side(server: Server, script: Path, seconds: float, tmp: Path, profile: bool) -> dict[str, Any]:
    load = round(os.getloadavg()[0], 2)
    run_wrk(server.url, script, connections=32, threads=2, seconds=2)
    workers = server.workers()
    before = sum(w.cpu_seconds for w in workers)
    data = tmp / "perf.data"
    perf = start_perf([w.pid for w in workers], seconds, data)
    with ThreadPoolExecutor(1) as pool:
        fetch = pool.submit(server.cpu_profile, max(1, int(seconds) - 1), ADMIN_TOKEN) if profile else None
        result = run_wrk(server.url, script, connections=32, threads=2, seconds=seconds)
        perf.wait()
        cpu = sum(w.cpu_seconds for w in server.workers()) - before
        pprof = _pprof_split(fetch.result()) if fetch is not None else None
    per_request_us = cpu / max(result.requests, 1) * 1e6
    return {
        "rps": round(result.rps, 1),
        "cpu_us_per_request": round(per_request_us, 1),
        "dso_shares": perf_split(data),
        "python_shares": pprof,
        "load_average_before": load,
    }


def _median_split(rounds: list[dict[str, Any]], key: str) -> dict[str, float]:
    """Median µs per request of each group over the rounds (share times that round's CPU)."""
    groups = {g for r in rounds for g in (r[key] or {})}
    return {
        g: round(statistics.median((r[key] or {}).get(g, 0.0) * r["cpu_us_per_request"] for r in rounds), 1)
        for g in groups
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--docs", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args(argv)
    sizing = size_service(Settings.from_env(os.environ))
    workers, pool = sizing.workers, sizing.db_pool_size
    database_url, _ = asyncio.run(fresh_postgres(args.postgres_url, DATABASE))
    _migrate(database_url)
    env = {"TODOSTACK_AUTOPROF_ENABLED": "off", "TODOSTACK_ADMIN_TOKEN": ADMIN_TOKEN}
    baseline = Path(__file__).resolve().parent / "baseline_raw.py"
    results: dict[str, Any] = {"scenarios": {}}
    with tempfile.TemporaryDirectory(prefix="todostack-floor-gap-") as name:
        tmp = Path(name)
        with serve_todostack(database_url, tmp / "seed.log", workers=workers) as server:
            workload = asyncio.run(seed(server.url, users=10, todos_per_user=200))
        for scenario in args.scenarios.split(","):
            script = script_for(scenario, workload, 2, tmp)
            rounds: dict[str, list[dict[str, Any]]] = {"service": [], "floor": []}
            for n in range(args.rounds):
                for side in ("service", "floor") if n % 2 == 0 else ("floor", "service"):
                    if side == "service":
                        cm = serve_todostack(database_url, tmp / "svc.log", workers=workers, extra=env)
                    else:
                        cm = serve_baseline(
                            database_url,
                            tmp / "floor.log",
                            workers=workers,
                            pool_size=pool,
                            loop="uvloop",
                            baseline=baseline,
                        )
                    with cm as target:
                        row = _one_side(target, script, args.seconds, tmp, profile=side == "service")
                    rounds[side].append(row)
                    print(
                        f"{scenario} {side}: {row['rps']:.0f} req/s, {row['cpu_us_per_request']:.0f} µs",
                        file=sys.stderr,
                    )
            results["scenarios"][scenario] = {
                "rounds": rounds,
                "cpu_us_per_request": {
                    s: statistics.median(r["cpu_us_per_request"] for r in rs) for s, rs in rounds.items()
                },
                "dso_us": {s: _median_split(rs, "dso_shares") for s, rs in rounds.items()},
                "python_us": _median_split(rounds["service"], "python_shares"),
            }
    results.update(
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        command="python bench/floor_gap.py " + shlex.join(argv),
        machine=machine(),
        workers=workers,
        seconds=args.seconds,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path("bench/results") / f"{stamp}-floor-gap.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    replace_section(args.docs, _report(results, out), "Where the service pays against its floor")
    print(f"results: {out}", file=sys.stderr)
    return 0


def _report(results: dict[str, Any], out: Path) -> list[str]:
    lines = [
        "<!-- floor-gap:start (regenerated by bench/floor_gap.py) -->",
        f"`{results['command']}`: {results['workers']} workers, PostgreSQL, 32 connections, "
        f"{results['seconds']:g} s per side per round, service and floor alternating; "
        f"µs of worker CPU per request (medians over the rounds). Raw: `{out.as_posix()}`.",
    ]
    for scenario, s in results["scenarios"].items():
        svc, floor = s["dso_us"]["service"], s["dso_us"]["floor"]
        total = s["cpu_us_per_request"]
        rps = {side: " / ".join(f"{r['rps']:,.0f}" for r in s["rounds"][side]) for side in ("service", "floor")}
        lines += [
            "",
            f"**{scenario}**: service {total['service']:.0f} µs, floor {total['floor']:.0f} µs per request "
            f"(req/s per round: service {rps['service']}, floor {rps['floor']}).",
            "",
            "| where (perf, by shared object) | service µs | floor µs | service - floor |",
            "| --- | --- | --- | --- |",
        ]
        for group in sorted(set(svc) | set(floor), key=lambda g: -(svc.get(g, 0) - floor.get(g, 0))):
            a, b = svc.get(group, 0.0), floor.get(group, 0.0)
            lines.append(f"| {group} | {a:.0f} | {b:.0f} | {a - b:+.0f} |")
        python = s["python_us"]
        lines += [
            "",
            "| the service's CPU by the Python module it ran in (its own profile; C time goes to the next "
            "Python frame) | µs |",
            "| --- | --- |",
        ]
        for group, us in sorted(python.items(), key=lambda kv: -kv[1]):
            lines.append(f"| {group} | {us:.0f} |")
    lines.append("<!-- floor-gap:end -->")
    return lines


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
