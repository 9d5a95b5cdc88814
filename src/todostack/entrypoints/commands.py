"""The commands that do one thing and exit: ``runtime``, ``migrate``, ``user create``, ``user revoke``."""

from __future__ import annotations

import getpass
import json
import sys

from todostack.bootstrap import MigrationError, migrate, open_services
from todostack.domain import TodoError
from todostack.runtime import Settings, SettingsError, size_service

__all__ = ["EXIT_NOT_MIGRATED", "EXIT_NO_SUCH_USER", "create_user", "migrate_database", "print_runtime", "revoke_user"]

EXIT_NO_SUCH_USER = 4

EXIT_NOT_MIGRATED = 3


def print_runtime(settings: Settings, *, as_json: bool) -> int:
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


async def migrate_database(settings: Settings) -> int:
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


async def create_user(settings: Settings, email: str, password: str | None) -> int:
    if password is None:
        password = getpass.getpass("password: ")
    if settings.database.dialect == "sqlite":
        await migrate(settings)
    try:
        async with open_services(settings) as services:
            if await services.auth.has_account(email):  # the API keeps this to itself; an operator is told
                print(f"todostack user create: {email} already has an account", file=sys.stderr)
                return 1
            created = await services.auth.register(email, password)
    except SettingsError as exc:
        print(f"todostack user create: {exc}", file=sys.stderr)
        return 2
    except TodoError as exc:
        print(f"todostack user create: {exc.detail}", file=sys.stderr)
        return 1
    print(f"created user {created.value.email} ({created.value.id})")
    return 0


async def revoke_user(settings: Settings, email: str) -> int:
    """End every session of the user (``todostack user revoke <email>``)."""
    if settings.database.dialect == "sqlite":
        await migrate(settings)
    try:
        async with open_services(settings) as services:
            ended = await services.auth.revoke_user(email)
    except SettingsError as exc:
        print(f"todostack user revoke: {exc}", file=sys.stderr)
        return 2
    if ended is None:
        print(f"todostack user revoke: no account has the email {email}", file=sys.stderr)
        return EXIT_NO_SUCH_USER
    print(f"ended {ended} session{'s' if ended != 1 else ''} of {email.strip().lower()}")
    return 0
