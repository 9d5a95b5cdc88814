"""How big this service should be inside its container: workers, threads, pools, memory share.

Python's ``os.cpu_count()`` reports the host's cores and ignores the cgroup CPU quota, as Go's
``runtime.NumCPU`` did before uber-go/automaxprocs; a 2-CPU pod on a 64-core node would start 64
workers and spend its quota being throttled. This module decides from the *effective* CPUs.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from todostack.runtime.cgroups import CgroupLimits

__all__ = ["CpuDecision", "Sizing", "affinity_cpus", "decide_cpus", "parse_bytes", "plan"]

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2}
_UNITS |= {"g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_bytes(text: str) -> int:
    """``"512MiB"``, ``"1.5GiB"``, ``"800M"`` or plain bytes."""
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ValueError(f"not a size: {text!r} (use bytes, or a unit such as MiB or GiB)")
    return int(float(match.group(1)) * _UNITS[unit])


def affinity_cpus() -> int:
    """CPUs this process may run on (``os.process_cpu_count`` where Python has it)."""
    counter: Callable[[], int | None] | None = getattr(os, "process_cpu_count", None)
    if counter is not None:
        return max(1, counter() or 1)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class CpuDecision:
    count: int
    reason: str  # one line, automaxprocs style


def decide_cpus(quota: float | None, affinity: int, override: int | None = None) -> CpuDecision:
    """Effective CPUs: the quota rounded down (at least 1), never more than the affinity allows."""
    if override is not None:
        return CpuDecision(override, f"using {override} worker(s): set explicitly (TODOSTACK_WORKERS/--workers)")
    if quota is None:
        return CpuDecision(affinity, f"using {affinity} CPU(s): no CPU quota, {affinity} CPU(s) in the affinity mask")
    whole = math.floor(quota)
    if whole < 1:
        return CpuDecision(1, f"using 1 CPU: CPU quota {quota:g} is below the minimum of 1")
    count = min(whole, affinity)
    limited_by = "the CPU quota" if count == whole else "the affinity mask, smaller than the quota"
    return CpuDecision(count, f"using {count} CPU(s): CPU quota {quota:g} found, limited by {limited_by}")


@dataclass(frozen=True, slots=True)
class Sizing:
    cgroup_version: int | None
    cpu_quota: float | None
    effective_cpus: int
    cpu_reason: str
    memory_limit_bytes: int | None
    soft_limit_bytes: int | None  # for all workers together
    soft_limit_bytes_per_worker: int | None
    workers: int
    threads: int
    db_pool_size: int

    def as_json(self) -> dict[str, object]:
        return {
            "cgroup_version": self.cgroup_version,
            "cpu_quota": self.cpu_quota,
            "effective_cpus": self.effective_cpus,
            "memory_limit_bytes": self.memory_limit_bytes,
            "soft_limit_bytes": self.soft_limit_bytes,
            "soft_limit_bytes_per_worker": self.soft_limit_bytes_per_worker,
            "workers": self.workers,
            "threads": self.threads,
            "db_pool_size": self.db_pool_size,
            "cpu_reason": self.cpu_reason,
        }


def plan(
    limits: CgroupLimits,
    affinity: int,
    *,
    workers_override: int | None,
    pool_size: int,
    connection_budget: int,
    memory_limit_override: int | None,
    memory_limit_ratio: float,
) -> Sizing:
    """Size the service from what its cgroups allow.

    - workers: one per effective CPU, unless set explicitly;
    - threads (the default executor): effective CPUs + 4, as CPython's own default but from
      effective CPUs, at most 32;
    - database pool per worker: the configured size, cut so that workers * pool stays within the
      PostgreSQL connection budget;
    - soft memory limit: explicit, else ratio * the cgroup limit, shared evenly by the workers.
    """
    cpus = decide_cpus(limits.cpu_quota, affinity)
    decision = decide_cpus(limits.cpu_quota, affinity, workers_override)
    workers = decision.count
    soft = memory_limit_override
    if soft is None and limits.memory_limit is not None:
        soft = int(limits.memory_limit * memory_limit_ratio)
    return Sizing(
        cgroup_version=limits.version,
        cpu_quota=limits.cpu_quota,
        effective_cpus=cpus.count,
        cpu_reason=decision.reason,
        memory_limit_bytes=limits.memory_limit,
        soft_limit_bytes=soft,
        soft_limit_bytes_per_worker=None if soft is None else soft // workers,
        workers=workers,
        threads=min(32, cpus.count + 4),
        db_pool_size=max(1, min(pool_size, connection_budget // workers)),
    )
