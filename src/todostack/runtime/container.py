"""The service's size, decided once from settings and the cgroups it runs in."""

from __future__ import annotations

from pathlib import Path

from todostack.runtime.cgroups import read_cgroup_limits
from todostack.runtime.settings import Settings
from todostack.runtime.sizing import Sizing, affinity_cpus, plan

__all__ = ["size_service"]


def size_service(settings: Settings, root: Path = Path("/"), affinity: int | None = None) -> Sizing:
    rt = settings.runtime
    return plan(
        read_cgroup_limits(root),
        affinity if affinity is not None else affinity_cpus(),
        workers_override=settings.server.workers,
        pool_size=settings.database.pool_size,
        connection_budget=rt.db_connection_budget,
        memory_limit_override=rt.memory_limit,
        memory_limit_ratio=rt.memory_limit_ratio,
    )
