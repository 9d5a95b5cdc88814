"""What the kernel's control groups allow this process: CPU quota, memory limit, throttling.

Reads cgroup v1 and v2 (and the hybrid layout where both are mounted), from the process's own
group up through its parents, because a limit set on any ancestor applies. ``root`` lets tests
point the reader at a fake tree (``<root>/proc/self/cgroup``, ``<root>/proc/self/mountinfo``,
and the mount points those name, taken below ``root``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CgroupLimits",
    "CpuThrottling",
    "read_cgroup_limits",
    "read_cpu_usage_seconds",
    "read_memory_working_set",
    "read_pressure",
    "read_throttling",
]

# cgroup v1 writes "no limit" as the largest page-aligned signed 64-bit value.
_V1_UNLIMITED = 1 << 62


@dataclass(frozen=True, slots=True)
class _Mount:
    root: str  # the group path that the mount point shows
    point: Path
    version: int


@dataclass(frozen=True, slots=True)
class CgroupLimits:
    version: int | None  # 1, 2, or None when no cgroup controls CPU or memory
    cpu_quota: float | None  # CPUs, the smallest quota on the way up; None: no quota
    memory_limit: int | None  # bytes, the smallest limit on the way up; None: unlimited
    cpu_dir: Path | None  # the process's own CPU group directory (for cpu.stat)
    memory_dir: Path | None
    cpuacct_dir: Path | None = None  # v1: where cpuacct.usage is (usually the same as cpu_dir)


@dataclass(frozen=True, slots=True)
class CpuThrottling:
    periods: int
    throttled_periods: int
    throttled_seconds: float


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _mounts(root: Path) -> tuple[dict[str, _Mount], _Mount | None]:
    """v1 mounts by controller name, and the v2 (unified) mount if any."""
    v1: dict[str, _Mount] = {}
    v2: _Mount | None = None
    for line in (_read(root / "proc/self/mountinfo") or "").splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        point = root / fields[4].lstrip("/")
        if tail[0] == "cgroup2":
            v2 = _Mount(fields[3], point, 2)
        elif tail[0] == "cgroup":
            for option in tail[2].split(","):
                v1.setdefault(option, _Mount(fields[3], point, 1))
    return v1, v2


def _groups(root: Path) -> tuple[dict[str, str], str | None]:
    """The process's v1 group per controller, and its v2 group."""
    v1: dict[str, str] = {}
    v2: str | None = None
    for line in (_read(root / "proc/self/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2 = path
        for controller in controllers.split(","):
            if controller:
                v1[controller] = path
    return v1, v2


def _chain(mount: _Mount, group: str) -> list[Path]:
    """The group's directory and its ancestors up to the mount point, leaf first."""
    relative = group
    if mount.root != "/" and group.startswith(mount.root):
        relative = group[len(mount.root) :]
    parts = [p for p in relative.split("/") if p]
    dirs = [mount.point.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]
    return [d for d in dirs if d.is_dir()] or [mount.point]


def _locate(controller: str, root: Path) -> tuple[int, list[Path]] | None:
    mounts_v1, mount_v2 = _mounts(root)
    groups_v1, group_v2 = _groups(root)
    if controller in mounts_v1 and controller in groups_v1:
        return 1, _chain(mounts_v1[controller], groups_v1[controller])
    if mount_v2 is not None and group_v2 is not None:
        chain = _chain(mount_v2, group_v2)
        controllers = (_read(mount_v2.point / "cgroup.controllers") or "").split()
        if controller in controllers:
            return 2, chain
    return None


def _cpu_quota(version: int, chain: list[Path]) -> float | None:
    quotas: list[float] = []
    for d in chain:
        if version == 1:
            quota, period = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
            if quota is None or period is None:
                continue
            q, p = int(quota), int(period)
        else:
            line = _read(d / "cpu.max")
            if line is None:
                continue
            quota, _, period = line.partition(" ")
            if quota == "max":
                continue
            q, p = int(quota), int(period or "100000")
        if q > 0 and p > 0:
            quotas.append(q / p)
    return min(quotas) if quotas else None


def _memory_limit(version: int, chain: list[Path]) -> int | None:
    limits: list[int] = []
    for d in chain:
        raw = _read(d / ("memory.limit_in_bytes" if version == 1 else "memory.max"))
        if raw is None or raw == "max":
            continue
        value = int(raw)
        if version == 1 and value >= _V1_UNLIMITED:
            continue
        limits.append(value)
    return min(limits) if limits else None


def read_cgroup_limits(root: Path = Path("/")) -> CgroupLimits:
    """The limits in force for this process; a missing or unreadable file means "no limit there"."""
    cpu = _locate("cpu", root)
    memory = _locate("memory", root)
    # v1 with cpu and cpuacct mounted apart: the accounting group is only this container's usage
    # when it is the same group as the one the quota applies to. A process whose cpuacct group is
    # another (often the root: the whole machine) has no group usage to set against the quota.
    groups_v1, _ = _groups(root)
    cpuacct = _locate("cpuacct", root) if groups_v1.get("cpuacct") == groups_v1.get("cpu") else None
    versions = {v for v, _ in (x for x in (cpu, memory) if x is not None)}
    return CgroupLimits(
        version=min(versions) if versions else None,
        cpu_quota=_cpu_quota(*cpu) if cpu else None,
        memory_limit=_memory_limit(*memory) if memory else None,
        cpu_dir=cpu[1][0] if cpu else None,
        memory_dir=memory[1][0] if memory else None,
        cpuacct_dir=cpuacct[1][0] if cpuacct and cpuacct[0] == 1 else None,
    )


def read_throttling(cpu_dir: Path) -> CpuThrottling | None:
    """``cpu.stat`` of a CPU group: how often the quota stopped it, and for how long."""
    raw = _read(cpu_dir / "cpu.stat")
    if raw is None:
        return None
    stat = {}
    for line in raw.splitlines():
        key, _, value = line.partition(" ")
        if value.isdigit():
            stat[key] = int(value)
    if "throttled_usec" in stat:  # v2
        seconds = stat["throttled_usec"] / 1e6
    else:  # v1: nanoseconds
        seconds = stat.get("throttled_time", 0) / 1e9
    return CpuThrottling(stat.get("nr_periods", 0), stat.get("nr_throttled", 0), seconds)


def read_pressure(path: Path) -> float | None:
    """PSI: the ``some avg10`` share (0..1) of the last 10 s in which tasks waited, if the kernel has it.

    ``path`` is a cgroup v2 ``cpu.pressure``/``memory.pressure`` or ``/proc/pressure/cpu``.
    """
    raw = _read(path)
    if raw is None:
        return None
    for line in raw.splitlines():
        kind, _, fields = line.partition(" ")
        if kind == "some":
            for field in fields.split():
                key, _, value = field.partition("=")
                if key == "avg10":
                    try:
                        return float(value) / 100
                    except ValueError:
                        return None
    return None


def _stat(path: Path) -> dict[str, int]:
    stat: dict[str, int] = {}
    for line in (_read(path) or "").splitlines():
        key, _, value = line.partition(" ")
        if value.isdigit():
            stat[key] = int(value)
    return stat


def read_cpu_usage_seconds(limits: CgroupLimits) -> float | None:
    """CPU time used by everything in the process's CPU group so far (v1 ``cpuacct.usage``,
    v2 ``cpu.stat`` ``usage_usec``); ``None`` when there is no such group or file."""
    if limits.version == 1:
        for d in (limits.cpuacct_dir, limits.cpu_dir):
            raw = _read(d / "cpuacct.usage") if d is not None else None
            if raw is not None and raw.isdigit():
                return int(raw) / 1e9
        return None
    if limits.cpu_dir is None:
        return None
    usec = _stat(limits.cpu_dir / "cpu.stat").get("usage_usec")
    return usec / 1e6 if usec is not None else None


def read_memory_working_set(limits: CgroupLimits) -> int | None:
    """The group's memory minus its inactive file cache (what the kernel cannot simply drop):
    the figure the OOM killer and ``kubectl top`` go by. ``None`` without a memory group."""
    d = limits.memory_dir
    if d is None:
        return None
    raw = _read(d / ("memory.usage_in_bytes" if limits.version == 1 else "memory.current"))
    if raw is None or not raw.isdigit():
        return None
    stat = _stat(d / "memory.stat")
    inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
    return max(0, int(raw) - inactive)
