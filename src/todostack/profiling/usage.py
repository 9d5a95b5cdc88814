"""What the watcher measures at each check: CPU time, memory, throttling, event-loop lag.

CPU and memory come from the container's cgroup when it sets a limit (usage of the group against
its quota or limit, as autopprof does). Without a limit they come from this process against the
machine (its CPU time over the effective CPU count, its resident memory over the machine's
memory), and ``scope`` says so.
"""

from __future__ import annotations

import asyncio
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from todostack.runtime.cgroups import (
    CgroupLimits,
    read_cgroup_limits,
    read_cpu_usage_seconds,
    read_memory_working_set,
    read_throttling,
)
from todostack.runtime.memory import resident_bytes
from todostack.runtime.sizing import affinity_cpus

__all__ = ["LagProbe", "Reading", "UsageReader", "machine_memory_bytes"]

Scope = Literal["cgroup", "process"]


@dataclass(frozen=True, slots=True)
class Reading:
    at: float  # monotonic seconds
    cpu_seconds: float  # used so far, by the group (cgroup scope) or this process
    own_cpu_seconds: float  # by this process
    cpu_capacity: float  # CPUs: the quota, or the effective CPU count
    cpu_scope: Scope
    memory_bytes: int  # in use, by the group (minus inactive file cache) or this process
    own_memory_bytes: int
    memory_limit: int
    memory_scope: Scope
    periods: int | None  # cpu.stat, when a quota applies
    throttled_periods: int | None


def machine_memory_bytes() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise OSError("no MemTotal in /proc/meminfo")


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class UsageReader:
    def __init__(self, limits: Callable[[], CgroupLimits] = read_cgroup_limits) -> None:
        self._limits = limits
        self._machine_memory: int | None = None

    def read(self) -> Reading:
        limits = self._limits()
        own_cpu = _own_cpu_seconds()
        own_memory = resident_bytes()
        group_cpu = read_cpu_usage_seconds(limits) if limits.cpu_quota is not None else None
        periods = throttled = None
        if group_cpu is not None and limits.cpu_quota is not None:
            cpu, capacity, cpu_scope = group_cpu, limits.cpu_quota, "cgroup"
            throttling = read_throttling(limits.cpu_dir) if limits.cpu_dir is not None else None
            if throttling is not None:
                periods, throttled = throttling.periods, throttling.throttled_periods
        else:
            cpu, capacity, cpu_scope = own_cpu, float(affinity_cpus()), "process"
        group_memory = read_memory_working_set(limits) if limits.memory_limit is not None else None
        if group_memory is not None and limits.memory_limit is not None:
            memory, limit, memory_scope = group_memory, limits.memory_limit, "cgroup"
        else:
            if self._machine_memory is None:
                self._machine_memory = machine_memory_bytes()
            memory, limit, memory_scope = own_memory, self._machine_memory, "process"
        return Reading(
            time.monotonic(),
            cpu,
            own_cpu,
            capacity,
            cpu_scope,  # type: ignore[arg-type]
            memory,
            own_memory,
            limit,
            memory_scope,  # type: ignore[arg-type]
            periods,
            throttled,
        )


class LagProbe:
    """Event-loop lag seen from another thread: how long a callback waits before the loop runs it.

    Each ``measure`` sends a new probe and returns the lag of the previous one, or, if that one
    has still not run, how long it has been waiting (a blocked loop shows as a growing lag).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._sent: float | None = None
        self._ran: float | None = None

    def _arrived(self) -> None:
        with self._lock:
            self._ran = time.monotonic()

    def measure(self) -> float | None:
        if not self._loop.is_running():  # stopped or closed: no lag to speak of
            with self._lock:
                self._sent = self._ran = None
            return None
        now = time.monotonic()
        with self._lock:
            sent, ran = self._sent, self._ran
            if sent is not None and ran is None:
                return now - sent  # still waiting: do not queue another behind it
            self._sent, self._ran = now, None
        try:
            self._loop.call_soon_threadsafe(self._arrived)
        except RuntimeError:  # the loop is closed
            return None
        return None if sent is None or ran is None else ran - sent
