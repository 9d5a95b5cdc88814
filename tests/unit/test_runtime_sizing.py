"""Container awareness against fake cgroup trees (v1, v2, hybrid), table-driven."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from todostack.runtime import Settings, SettingsError
from todostack.runtime.cgroups import (
    CgroupLimits,
    read_cgroup_limits,
    read_cpu_usage_seconds,
    read_pressure,
    read_throttling,
)
from todostack.runtime.memory import MemoryGuard, scavenge_forever
from todostack.runtime.sizing import decide_cpus, parse_bytes, plan

V1_MOUNTS = (
    "30 20 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "31 20 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
)
V2_MOUNT = "30 20 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def v1(quotas: dict[str, tuple[int, int]], limits: dict[str, int], group: str = "/pod/app") -> dict[str, str]:
    files = {
        "proc/self/mountinfo": V1_MOUNTS,
        "proc/self/cgroup": f"4:memory:{group}\n3:cpu,cpuacct:{group}\n0::/\n",
    }
    for path, (quota, period) in quotas.items():
        files[f"sys/fs/cgroup/cpu,cpuacct{path}/cpu.cfs_quota_us"] = str(quota)
        files[f"sys/fs/cgroup/cpu,cpuacct{path}/cpu.cfs_period_us"] = str(period)
    for path, limit in limits.items():
        files[f"sys/fs/cgroup/memory{path}/memory.limit_in_bytes"] = str(limit)
    return files


def v2(cpu_max: dict[str, str], memory_max: dict[str, str], group: str = "/pod/app") -> dict[str, str]:
    files = {
        "proc/self/mountinfo": V2_MOUNT,
        "proc/self/cgroup": f"0::{group}\n",
        "sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory pids\n",
    }
    for path, value in cpu_max.items():
        files[f"sys/fs/cgroup{path}/cpu.max"] = value
    for path, value in memory_max.items():
        files[f"sys/fs/cgroup{path}/memory.max"] = value
    return files


UNLIMITED_V1 = 9223372036854771712
GIB = 1024**3


@pytest.mark.parametrize(
    ("files", "version", "quota", "memory"),
    [
        (v1({"": (-1, 100000), "/pod/app": (-1, 100000)}, {"/pod/app": UNLIMITED_V1}), 1, None, None),
        (v1({"/pod/app": (150000, 100000)}, {"/pod/app": 2 * GIB}), 1, 1.5, 2 * GIB),
        (v1({"/pod": (50000, 100000), "/pod/app": (200000, 100000)}, {"/pod": GIB, "/pod/app": 4 * GIB}), 1, 0.5, GIB),
        (v1({}, {}), 1, None, None),
        (v2({"/pod/app": "max 100000"}, {"/pod/app": "max"}), 2, None, None),
        (v2({"/pod/app": "250000 100000"}, {"/pod/app": str(3 * GIB)}), 2, 2.5, 3 * GIB),
        (v2({"/pod": "100000 100000", "/pod/app": "max 100000"}, {"/pod": str(GIB), "/pod/app": "max"}), 2, 1.0, GIB),
        ({}, None, None, None),
    ],
    ids=[
        "v1-no-quota",
        "v1-fractional",
        "v1-parent-smaller",
        "v1-files-missing",
        "v2-max",
        "v2-quota",
        "v2-parent-limits",
        "no-cgroups",
    ],
)
def test_limits(
    tmp_path: Path, files: dict[str, str], version: int | None, quota: float | None, memory: int | None
) -> None:
    limits = read_cgroup_limits(tree(tmp_path, files))
    assert (limits.version, limits.cpu_quota, limits.memory_limit) == (version, quota, memory)


def test_hybrid_layout_uses_v1_controllers(tmp_path: Path) -> None:
    files = v1({"/pod/app": (100000, 100000)}, {})
    files["proc/self/mountinfo"] += "40 20 0:40 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    limits = read_cgroup_limits(tree(tmp_path, files))
    assert (limits.version, limits.cpu_quota) == (1, 1.0)


def test_a_cpuacct_group_other_than_the_cpu_group_is_not_read_as_the_containers_usage(tmp_path: Path) -> None:
    # cpu and cpuacct mounted apart, the process in a child cpu group (with the quota) but in the
    # root cpuacct group: cpuacct.usage there counts the whole machine, not the container.
    files = {
        "proc/self/mountinfo": (
            "30 20 0:26 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
            "32 20 0:28 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n"
        ),
        "proc/self/cgroup": "3:cpuacct:/\n2:cpu:/pod/app\n0::/\n",
        "sys/fs/cgroup/cpu/pod/app/cpu.cfs_quota_us": "50000",
        "sys/fs/cgroup/cpu/pod/app/cpu.cfs_period_us": "100000",
        "sys/fs/cgroup/cpuacct/cpuacct.usage": "9000000000000",
        "sys/fs/cgroup/cpuacct/pod/app/cpuacct.usage": "1000000000",
    }
    limits = read_cgroup_limits(tree(tmp_path, files))
    assert limits.cpu_quota == 0.5
    assert limits.cpuacct_dir is None
    assert read_cpu_usage_seconds(limits) is None
    # In the same group (as a container runtime places it), the group's own usage is read.
    files["proc/self/cgroup"] = "3:cpuacct:/pod/app\n2:cpu:/pod/app\n0::/\n"
    limits = read_cgroup_limits(tree(tmp_path, files))
    assert limits.cpuacct_dir == tmp_path / "sys/fs/cgroup/cpuacct/pod/app"
    assert read_cpu_usage_seconds(limits) == 1.0


def test_group_below_a_nested_mount_root(tmp_path: Path) -> None:
    files = v1({"": (300000, 100000)}, {})
    # Inside a container the mount shows the pod's own group as its root.
    files["proc/self/mountinfo"] = V1_MOUNTS.replace(
        " / /sys/fs/cgroup/cpu,cpuacct", " /pod/app /sys/fs/cgroup/cpu,cpuacct"
    )
    assert read_cgroup_limits(tree(tmp_path, files)).cpu_quota == 3.0


@pytest.mark.parametrize(
    ("stat", "expected"),
    [
        ("nr_periods 10\nnr_throttled 4\nthrottled_time 2500000000\n", (10, 4, 2.5)),
        ("usage_usec 1\nnr_periods 8\nnr_throttled 2\nthrottled_usec 1500000\n", (8, 2, 1.5)),
    ],
    ids=["v1-nanoseconds", "v2-microseconds"],
)
def test_throttling(tmp_path: Path, stat: str, expected: tuple[int, int, float]) -> None:
    (tmp_path / "cpu.stat").write_text(stat)
    t = read_throttling(tmp_path)
    assert t is not None
    assert (t.periods, t.throttled_periods, t.throttled_seconds) == expected


@pytest.mark.parametrize(
    ("text", "share"),
    [
        ("some avg10=12.50 avg60=3.00 avg300=1.00 total=123\nfull avg10=1.00 avg60=0 avg300=0 total=9\n", 0.125),
        ("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 0.0),
        ("full avg10=5.00 avg60=0 avg300=0 total=9\n", None),  # no "some" line
        ("some avg10=high\n", None),
        (None, None),  # a kernel without PSI
    ],
    ids=["busy", "idle", "no-some", "garbled", "absent"],
)
def test_pressure_is_the_some_avg10_share(tmp_path: Path, text: str | None, share: float | None) -> None:
    if text is not None:
        (tmp_path / "cpu.pressure").write_text(text)
    assert read_pressure(tmp_path / "cpu.pressure") == share


@pytest.mark.parametrize(
    ("quota", "affinity", "override", "count", "says"),
    [
        (None, 8, None, 8, "no CPU quota"),
        (1.5, 8, None, 1, "CPU quota 1.5 found"),
        (0.5, 8, None, 1, "below the minimum"),
        (4.0, 2, None, 2, "affinity mask"),
        (4.0, 8, 3, 3, "set explicitly"),
    ],
    ids=["no-quota", "fraction-rounds-down", "below-minimum", "affinity-smaller", "explicit-override"],
)
def test_effective_cpus(quota: float | None, affinity: int, override: int | None, count: int, says: str) -> None:
    decision = decide_cpus(quota, affinity, override)
    assert decision.count == count
    assert says in decision.reason


@pytest.mark.parametrize(
    ("text", "value"),
    [("1048576", 1048576), ("512MiB", 512 * 1024**2), ("1.5GiB", int(1.5 * GIB)), ("800M", 800_000_000)],
)
def test_parse_bytes(text: str, value: int) -> None:
    assert parse_bytes(text) == value


@pytest.mark.parametrize("text", ["", "lots", "5 parsecs", "-1MiB"])
def test_parse_bytes_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_bytes(text)


@pytest.mark.parametrize(
    ("limits", "override", "memory_override", "expect"),
    [
        (CgroupLimits(1, 1.0, 1000 * 1024**2, None, None), None, None, (1, 900 * 1024**2, 5, 10)),
        (CgroupLimits(2, None, None, None, None), None, None, (4, None, 8, 10)),
        (CgroupLimits(2, None, None, None, None), 16, 1600, (16, 100, 8, 5)),
    ],
    ids=["quota-and-limit", "unlimited", "explicit-workers-and-memory"],
)
def test_plan(
    limits: CgroupLimits, override: int | None, memory_override: int | None, expect: tuple[object, ...]
) -> None:
    sizing = plan(
        limits,
        4,
        workers_override=override,
        pool_size=10,
        connection_budget=80,
        memory_limit_override=memory_override,
        memory_limit_ratio=0.9,
    )
    assert (sizing.workers, sizing.soft_limit_bytes_per_worker, sizing.threads, sizing.db_pool_size) == expect


def test_memory_guard_collects_then_reports_when_still_over() -> None:
    readings = iter([50, 120, 90, 130, 125, 140, 135])
    released: list[int] = []
    recycled: list[int] = []
    guard = MemoryGuard(
        100,
        1,
        measure=lambda: next(readings),
        release=lambda: released.append(1),
        recycle=lambda: recycled.append(1),
    )
    assert guard.check() is None
    first = guard.check()
    assert first is not None
    assert (first.before, first.after, first.still_over) == (120, 90, False)
    second = guard.check()
    assert second is not None
    assert second.still_over
    assert (len(released), guard.collections, guard.over_after_collect) == (2, 2, 1)
    assert guard.check() is not None
    assert recycled == [1], "a worker asks to be replaced once, however often it is checked"


_ARENA_PROBE = """
import ctypes, sys, threading
from todostack.runtime.memory import limit_malloc_arenas
print(limit_malloc_arenas(int(sys.argv[1])))
together = threading.Barrier(6)
def work():
    together.wait()  # all alive at once: each would get an arena of its own
    keep = [bytearray(4096) for _ in range(200)]
    together.wait()
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL("libc.so.6").malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def _arenas(cap: int) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", _ARENA_PROBE, str(cap)], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip(), sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def test_malloc_arenas_are_capped_for_threads_started_after() -> None:
    # glibc's default gives the main thread and each of the six an arena; the cap holds them to 2.
    took, arenas = _arenas(0)
    assert (took, arenas > 2) == ("False", True), arenas
    assert _arenas(2) == ("True", 2)


def test_the_arena_cap_is_a_setting() -> None:
    assert Settings.from_env({}).runtime.malloc_arena_max == 2
    assert Settings.from_env({"TODOSTACK_MALLOC_ARENA_MAX": "0"}).runtime.malloc_arena_max == 0
    with pytest.raises(SettingsError, match="TODOSTACK_MALLOC_ARENA_MAX"):
        Settings.from_env({"TODOSTACK_MALLOC_ARENA_MAX": "many"})


_TRIM_PROBE = """
import random
from todostack.runtime.memory import resident_bytes, trim_heap
random.seed(1)
kept = [bytes(random.randint(600, 4000)) for _ in range(40000)]  # ~90 MB through malloc
del kept[:30000]  # free the older three quarters: a hole below blocks still alive at the heap's top
before = resident_bytes()
trim_heap()
print(before, resident_bytes())
"""


def test_trimming_hands_freed_heap_back_to_the_kernel() -> None:
    done = subprocess.run([sys.executable, "-c", _TRIM_PROBE], capture_output=True, text=True, timeout=60, check=True)
    before, after = map(int, done.stdout.split())
    # free() kept the hole resident (it is not at the top); the trim returns most of its ~70 MB.
    assert before - after > 40 * 2**20, (before >> 20, after >> 20)


async def test_the_scavenger_trims_every_interval_off_the_event_loop() -> None:
    threads: list[str] = []
    task = asyncio.create_task(scavenge_forever(0.01, trim=lambda: threads.append(threading.current_thread().name)))
    await asyncio.sleep(0.2)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert len(threads) >= 3
    assert threading.main_thread().name not in threads


def test_the_scavenger_interval_is_a_setting() -> None:
    assert Settings.from_env({}).runtime.malloc_trim_seconds == 5.0
    assert Settings.from_env({"TODOSTACK_MALLOC_TRIM_SECONDS": "0"}).runtime.malloc_trim_seconds == 0
    with pytest.raises(SettingsError, match="TODOSTACK_MALLOC_TRIM_SECONDS"):
        Settings.from_env({"TODOSTACK_MALLOC_TRIM_SECONDS": "-1"})
