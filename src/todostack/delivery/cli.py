"""The ``todostack`` command: serve, migrate, runtime, bench, profile, user create."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]

log = logging.getLogger("todostack.cli")

EXIT_CONFIG = 2
EXIT_NOT_MIGRATED = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="todostack", description="Todo Stack: a production-grade todo service.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server (web page and API)")
    serve.add_argument("--host", help="address to listen on (TODOSTACK_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (TODOSTACK_PORT, default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (TODOSTACK_WORKERS, default: effective CPUs)")
    serve.add_argument("--database-url", help="TODOSTACK_DATABASE_URL, default sqlite:///var/todostack.db")

    runtime = commands.add_parser(
        "runtime", help="print what the service sees of its container and how it sizes itself"
    )
    runtime.add_argument("--json", action="store_true", help="one JSON object instead of text")
    runtime.add_argument("--workers", type=int, help="as for serve")

    migrate = commands.add_parser("migrate", help="apply pending database migrations")
    migrate.add_argument("--database-url", help="TODOSTACK_DATABASE_URL")

    bench = commands.add_parser(
        "bench", help="benchmark the service with wrk on 127.0.0.1 (results in bench/results, docs/benchmarks.md)"
    )
    from todostack.bench.options import add_arguments

    add_arguments(bench)

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
    from todostack.ebpf.trace import add_arguments as add_trace_arguments

    add_trace_arguments(trace)

    user = commands.add_parser("user", help="manage users")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    create = user_commands.add_parser("create", help="create a user")
    create.add_argument("--email", required=True)
    create.add_argument(
        "--password", help="the password (default: TODOSTACK_USER_PASSWORD, else asked for on the terminal)"
    )
    create.add_argument("--database-url", help="TODOSTACK_DATABASE_URL")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "bench":
        from todostack.bench.run import main as bench

        return bench(args, list(sys.argv[2:] if argv is None else argv[1:]))
    if args.command == "trace":
        from todostack.ebpf.trace import main as trace

        return trace(args)
    from todostack.runtime import Settings, SettingsError

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
        from todostack.delivery.serve import serve
        from todostack.observability.logs import configure_logging

        configure_logging(settings.log_level)  # JSON lines on stdout (readable on a terminal)

        return serve(settings)
    # The other commands print their answers on stdout: their logs go to stderr, as text.
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    if args.command == "runtime":
        return _runtime(settings, as_json=args.json)
    if args.command == "profile":
        from pathlib import Path

        from todostack.delivery.profiles import list_profiles, show_profile

        directory = Path(args.dir or settings.profiling.directory)
        if args.profile_command == "list":
            return list_profiles(directory, as_json=args.json)
        return show_profile(directory, args.name, top=args.top)
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    return asyncio.run(_create_user(settings, args.email, args.password))


def _runtime(settings: object, *, as_json: bool) -> int:
    import json

    from todostack.runtime import Settings, size_service

    assert isinstance(settings, Settings)
    sizing = size_service(settings)
    if as_json:
        print(json.dumps(sizing.as_json()))
        return 0
    mib = 1024 * 1024

    def size(value: int | None) -> str:
        return "none" if value is None else f"{value / mib:.0f} MiB ({value} bytes)"

    quota = "none" if sizing.cpu_quota is None else f"{sizing.cpu_quota:g} CPUs"
    rows = [
        ("cgroup version", "none" if sizing.cgroup_version is None else f"v{sizing.cgroup_version}"),
        ("CPU quota", quota),
        ("effective CPUs", str(sizing.effective_cpus)),
        ("memory limit", size(sizing.memory_limit_bytes)),
        ("soft memory limit", size(sizing.soft_limit_bytes)),
        ("soft limit per worker", size(sizing.soft_limit_bytes_per_worker)),
        ("workers", str(sizing.workers)),
        ("threads per worker", str(sizing.threads)),
        ("database pool per worker", str(sizing.db_pool_size)),
    ]
    for name, value in rows:
        print(f"{name:<26}{value}")
    print(sizing.cpu_reason)
    return 0


async def _migrate(settings: object) -> int:
    from todostack.bootstrap import MigrationError, migrate
    from todostack.runtime import Settings

    assert isinstance(settings, Settings)
    try:
        applied = await migrate(settings)
    except MigrationError as exc:
        print(f"todostack migrate: {exc}", file=sys.stderr)
        return EXIT_NOT_MIGRATED
    if applied:
        for m in applied:
            print(f"applied {m.version:04d}_{m.name}")
    else:
        print("database is up to date")
    return 0


async def _create_user(settings: object, email: str, password: str | None) -> int:
    from todostack.bootstrap import migrate, open_services
    from todostack.domain import TodoError
    from todostack.runtime import Settings

    assert isinstance(settings, Settings)
    if password is None:
        password = os.environ.get("TODOSTACK_USER_PASSWORD") or getpass.getpass("password: ")
    if settings.database.dialect == "sqlite":
        await migrate(settings)
    async with open_services(settings) as services:
        try:
            created = await services.auth.register(email, password)
        except TodoError as exc:
            print(f"todostack user create: {exc.detail}", file=sys.stderr)
            return 1
    print(f"created user {created.value.email} ({created.value.id})")
    return 0
