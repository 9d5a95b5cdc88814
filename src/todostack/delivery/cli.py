"""The ``todostack`` command: serve, migrate, user create."""

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

    migrate = commands.add_parser("migrate", help="apply pending database migrations")
    migrate.add_argument("--database-url", help="TODOSTACK_DATABASE_URL")

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
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    if args.command == "serve":
        from todostack.delivery.serve import serve

        return serve(settings)
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    return asyncio.run(_create_user(settings, args.email, args.password))


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
