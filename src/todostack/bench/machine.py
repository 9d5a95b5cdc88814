"""Where a benchmark ran: the machine, the versions of what ran, and the fresh database it ran on."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg

from todostack.bench.options import BENCH_DATABASE

__all__ = ["fresh_postgres", "machine", "versions"]


def machine() -> dict[str, Any]:
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


def versions(pg_version: str | None) -> dict[str, str]:
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


async def fresh_postgres(admin_url: str, name: str = BENCH_DATABASE) -> tuple[str, str]:
    """Drop and create the database ``name`` on ``admin_url``'s server: its URL and the server's version."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name}")
        version: str = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}", version.split(" ", 1)[0]
