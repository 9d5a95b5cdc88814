"""What the container allows, read again while the service runs (quotas can change under it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from todostack.runtime.cgroups import read_cgroup_limits, read_pressure, read_throttling
from todostack.runtime.sizing import affinity_cpus, decide_cpus

__all__ = ["RuntimeReading", "read_runtime"]


@dataclass(frozen=True, slots=True)
class RuntimeReading:
    """What the container lets this service use, read again at every sample."""

    effective_cpus: int
    cpu_quota: float | None  # CPUs; None: no quota
    throttled_periods: int | None  # cpu.stat nr_throttled (None: no cgroup CPU controller)
    throttled_seconds: float | None
    cpu_pressure: float | None  # PSI "some avg10", 0..1 (None: no PSI)
    memory_pressure: float | None


def read_runtime(root: Path = Path("/")) -> RuntimeReading:
    """Effective CPUs (as automaxprocs counts them), throttling of our CPU group, and PSI."""
    limits = read_cgroup_limits(root)
    throttling = read_throttling(limits.cpu_dir) if limits.cpu_dir is not None else None
    v2 = limits.version == 2
    cpu_psi = limits.cpu_dir / "cpu.pressure" if v2 and limits.cpu_dir is not None else root / "proc/pressure/cpu"
    memory_psi = (
        limits.memory_dir / "memory.pressure" if v2 and limits.memory_dir is not None else root / "proc/pressure/memory"
    )
    return RuntimeReading(
        effective_cpus=decide_cpus(limits.cpu_quota, affinity_cpus()).count,
        cpu_quota=limits.cpu_quota,
        throttled_periods=throttling.throttled_periods if throttling else None,
        throttled_seconds=throttling.throttled_seconds if throttling else None,
        cpu_pressure=read_pressure(cpu_psi),
        memory_pressure=read_pressure(memory_psi),
    )
