"""The command line of ``todostack bench`` (kept light: the CLI builds it on every start)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["BENCH_DATABASE", "SCENARIO_NAMES", "add_arguments"]

BENCH_DATABASE = "todostack_bench"
SCENARIO_NAMES = ("get-one", "list", "create", "patch", "mixed", "todobackend-list")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIO_NAMES), help="comma-separated, from: " + ", ".join(SCENARIO_NAMES)
    )
    parser.add_argument("--connections", default="32,256", help="wrk connection counts (comma-separated)")
    parser.add_argument("--duration", type=float, default=15, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up before each scenario")
    parser.add_argument("--repeats", type=int, default=3, help="measured runs per scenario on PostgreSQL")
    parser.add_argument("--sqlite-repeats", type=int, default=1, help="measured runs per scenario on SQLite")
    parser.add_argument(
        "--sqlite-duration",
        type=float,
        default=10,
        help="seconds per measured run on SQLite (keeps make bench under 15 min)",
    )
    parser.add_argument("--backends", default="postgresql,sqlite", help="postgresql, sqlite or both")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TODOSTACK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help=f"a server where the benchmark may (re)create the database {BENCH_DATABASE!r}",
    )
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--todos", type=int, default=1000, help="todos per user")
    parser.add_argument("--workers", type=int, default=None, help="default: the effective CPU count")
    parser.add_argument("--gc", choices=("tuned", "default"), default="tuned", help="tuned: gc.freeze + threshold 7000")
    parser.add_argument(
        "--tracing",
        choices=("off", "0.1", "1.0"),
        default="off",
        help="export spans over OTLP (to a local sink) sampling this share of requests",
    )
    parser.add_argument(
        "--autoprof",
        choices=("on", "off"),
        default="on",
        help="the profiling watcher (on, as the service ships; off to measure its idle cost)",
    )
    parser.add_argument(
        "--asgi-server",
        choices=("granian", "uvicorn"),
        default="granian",
        help="the ASGI server under the service (granian ships; uvicorn to compare)",
    )
    parser.add_argument(
        "--event-loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="the event loop in the service's workers and the raw floor's (uvloop ships; asyncio to compare)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip bench/baseline_raw.py")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="extra service environment (variants)"
    )
    parser.add_argument("--label", default="default", help="names this variant in the results")
    parser.add_argument("--results-dir", type=Path, default=Path("bench/results"))
    parser.add_argument("--log-dir", type=Path, default=None, help="keep the servers' logs here")
    parser.add_argument("--docs", type=Path, default=Path("docs/benchmarks.md"), help="'-' to skip the report")
    scale = parser.add_argument_group("--scale: p99 as the data grows (each of --backends; make bench-scale)")
    scale.add_argument("--scale", action="store_true", help="measure each scenario at each of --sizes instead")
    scale.add_argument("--sizes", default="10000,1000000,5000000", help="todos in the database, one run per size")
    scale.add_argument(
        "--scale-scenarios",
        default="get-one,list-first,list-deep,search,create,patch",
        help="comma-separated, from: get-one, list-first, list-deep, search, create, patch",
    )
    scale.add_argument(
        "--sqlite-scale-max", type=int, default=1_000_000, help="SQLite runs only the --sizes up to this many todos"
    )
    scale.add_argument("--heavy-todos", type=int, default=100_000, help="the heavy user's todos (at most half)")
    scale.add_argument("--scale-users", type=int, default=10_000, help="users the other todos are spread over")
    scale.add_argument(
        "--scale-database",
        default="todostack_bench_scale",
        help="--scale drops and creates <this>_<rows> for each size (on --postgres-url's server)",
    )
