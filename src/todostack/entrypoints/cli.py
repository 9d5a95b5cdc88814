"""The ``todostack`` command: serve, migrate, runtime, bench, profile, trace, user create.

Each command's module is imported once the command is known (all of them sit below this one):
``todostack profile list`` needs no web framework, and uvicorn's spawned workers import this
module again before they answer their supervisor's first health check.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from todostack.bench.options import add_arguments as add_bench_arguments
from todostack.ebpf.trace import add_arguments as add_trace_arguments
from todostack.runtime import Settings, SettingsError
from todostack.runtime.settings import describe, settings_lines

EXIT_CONFIG = 2

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="todostack", description="Todo Stack: a production-grade todo service.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_ = commands.add_parser(
        "serve",
        help="run the HTTP server (web page and API)",
        epilog="Every setting comes from the environment; flags win:\n" + settings_lines(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve_.add_argument("--host", help=describe("TODOSTACK_HOST"))
    serve_.add_argument("--port", type=int, help=describe("TODOSTACK_PORT"))
    serve_.add_argument("--workers", type=int, help=describe("TODOSTACK_WORKERS"))
    serve_.add_argument("--database-url", help=describe("TODOSTACK_DATABASE_URL"))

    runtime = commands.add_parser(
        "runtime", help="print what the service sees of its container and how it sizes itself"
    )
    runtime.add_argument("--json", action="store_true", help="one JSON object instead of text")
    runtime.add_argument("--workers", type=int, help=describe("TODOSTACK_WORKERS"))

    migrate = commands.add_parser("migrate", help="apply pending database migrations")
    migrate.add_argument("--database-url", help=describe("TODOSTACK_DATABASE_URL"))

    bench_ = commands.add_parser(
        "bench", help="benchmark the service with wrk on 127.0.0.1 (results in bench/results, docs/benchmarks.md)"
    )
    add_bench_arguments(bench_)

    profile = commands.add_parser("profile", help="the profiles autoprof captured (TODOSTACK_AUTOPROF_DIR)")
    profile_commands = profile.add_subparsers(dest="profile_command", required=True)
    listing = profile_commands.add_parser("list", help="every report: when, which metric, which worker, top frame")
    listing.add_argument("--dir", help="the profile directory (default: TODOSTACK_AUTOPROF_DIR or var/profiles)")
    listing.add_argument("--json", action="store_true", help="the reports as one JSON array")
    show = profile_commands.add_parser("show", help="a report's (or one .pb.gz file's) top frames")
    show.add_argument("name", nargs="?", help="a report.*.json or pprof.*.pb.gz (default: the latest report)")
    show.add_argument("--dir", help="as for list")
    show.add_argument("--top", type=int, default=10, help="how many functions (default 10)")

    trace = commands.add_parser("trace", help="run a bpftrace script against a worker (docs/ebpf.md; root)")
    add_trace_arguments(trace)

    user = commands.add_parser("user", help="manage users")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    create = user_commands.add_parser("create", help="create a user")
    create.add_argument("--email", required=True)
    create.add_argument(
        "--password", help="the password (default: TODOSTACK_USER_PASSWORD, else asked for on the terminal)"
    )
    create.add_argument("--database-url", help=describe("TODOSTACK_DATABASE_URL"))
    revoke = user_commands.add_parser(
        "revoke", help="end every session of a user at once (signed-in tokens stop working; the account stays)"
    )
    revoke.add_argument("email")
    revoke.add_argument("--database-url", help=describe("TODOSTACK_DATABASE_URL"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "bench":
        from todostack.bench.run import main as bench

        return bench(args, list(sys.argv[2:] if argv is None else argv[1:]))
    if args.command == "trace":
        from todostack.ebpf.trace import main as trace

        return trace(args)
    try:
        settings = Settings.from_env(os.environ).with_overrides(
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            workers=getattr(args, "workers", None),
            database_url=getattr(args, "database_url", None),
        )
    except SettingsError as exc:
        print(f"todostack: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "serve":
        from todostack.entrypoints.serve import serve
        from todostack.observability.logs import configure_logging

        logs = configure_logging(settings.log_level)  # JSON lines on stdout (readable on a terminal)
        return serve(settings, logs)
    # The other commands print their answers on stdout: their logs go to stderr, as text.
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    if args.command == "runtime":
        from todostack.entrypoints.commands import print_runtime

        return print_runtime(settings, as_json=args.json)
    if args.command == "profile":
        from todostack.entrypoints.profiles import list_profiles, show_profile

        directory = Path(args.dir or settings.profiling.directory)
        if args.profile_command == "list":
            return list_profiles(directory, as_json=args.json)
        return show_profile(directory, args.name, top=args.top)
    from todostack.entrypoints.commands import create_user, migrate_database, revoke_user

    if args.command == "migrate":
        return asyncio.run(migrate_database(settings))
    if args.user_command == "revoke":
        return asyncio.run(revoke_user(settings, args.email))
    password = args.password if args.password is not None else os.environ.get("TODOSTACK_USER_PASSWORD") or None
    return asyncio.run(create_user(settings, args.email, password))
