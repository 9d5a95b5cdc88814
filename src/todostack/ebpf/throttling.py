"""A process's cgroup CPU throttling, read from ``cpu.stat`` (v1's cpu controller, or v2's unified
hierarchy): ``todostack trace runqueue`` prints it beside bpftrace's run-queue latencies."""

from __future__ import annotations

import contextlib
from pathlib import Path

__all__ = ["cpu_stat", "throttling_line"]


def _cpu_cgroup(pid: int) -> Path | None:
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):  # v1: the cpu controller's hierarchy
            for root in (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup/cpu,cpuacct")):
                if root.is_dir():
                    return root / path.lstrip("/")
    for line in lines:
        if line.startswith("0::"):  # v2: the unified hierarchy
            return Path("/sys/fs/cgroup") / line[3:].lstrip("/")
    return None


def cpu_stat(pid: int) -> tuple[Path, dict[str, int]] | None:
    """The process's cgroup and its ``cpu.stat`` (nr_periods, nr_throttled, throttled time …)."""
    cgroup = _cpu_cgroup(pid)
    if cgroup is None:
        return None
    try:
        text = (cgroup / "cpu.stat").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            values[key] = int(value)
    return cgroup, values


def throttling_line(pid: int, before: tuple[Path, dict[str, int]] | None) -> str:
    """What the cgroup throttled the process by since ``before`` (a ``cpu_stat``), in one line."""
    after = cpu_stat(pid)
    if before is None or after is None:
        return "cgroup cpu.stat: not readable for this process"
    cgroup, start = before
    _, end = after
    delta = {key: end[key] - start.get(key, 0) for key in end}
    throttled_ms = delta.get("throttled_time", 0) / 1e6 or delta.get("throttled_usec", 0) / 1e3
    return (
        f"cgroup {cgroup}: nr_periods +{delta.get('nr_periods', 0)}, "
        f"nr_throttled +{delta.get('nr_throttled', 0)}, throttled {throttled_ms:.1f} ms over the same window"
    )
