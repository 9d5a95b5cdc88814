"""Start the ASGI server (granian) with settings handed to each worker through the environment."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from todostack.runtime import Settings

__all__ = ["serve"]

log = logging.getLogger("todostack.serve")


def _worker_count(settings: Settings) -> int:
    if settings.server.workers is not None:
        return settings.server.workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def serve(settings: Settings) -> int:
    from granian.constants import Interfaces
    from granian.server import Server

    from todostack.bootstrap import MigrationError, migrate, pending_migrations

    problems = settings.problems_for_start()
    if problems:
        for problem in problems:
            print(f"todostack serve: refusing to start: {problem}", file=sys.stderr)
        return 2
    try:
        if settings.database.dialect == "sqlite":
            for m in asyncio.run(migrate(settings)):
                log.info("applied migration %04d_%s", m.version, m.name)
        pending = asyncio.run(pending_migrations(settings))
    except MigrationError as exc:
        print(f"todostack serve: {exc}", file=sys.stderr)
        return 3
    except OSError as exc:
        print(f"todostack serve: cannot reach the database: {exc}", file=sys.stderr)
        return 3
    if pending:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in pending)
        print(
            f"todostack serve: the database is not migrated (pending: {names}); run `todostack migrate` first",
            file=sys.stderr,
        )
        return 3

    workers = _worker_count(settings)
    os.environ.update(settings.to_env())
    log.info(
        "serving on http://%s:%d with %d worker(s), database %s",
        settings.server.host,
        settings.server.port,
        workers,
        settings.database.dialect,
    )
    Server(
        "todostack.bootstrap:app_from_env",
        address=settings.server.host,
        port=settings.server.port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        log_enabled=True,
        log_access=False,
        respawn_failed_workers=True,
    ).serve()
    return 0
