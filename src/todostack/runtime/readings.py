"""What the container allows, read again while the service runs (quotas can change under it)."""

from __future__ import annotations

from pathlib import Path

from todostack.observability.process import RuntimeReading
from todostack.runtime.cgroups import read_cgroup_limits, read_pressure, read_throttling
from todostack.runtime.sizing import affinity_cpus, decide_cpus

__all__ = ["read_runtime"]


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
