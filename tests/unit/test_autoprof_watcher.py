"""The watcher's rules against fake readings: warming up, thresholds, suppression, culprits, failures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Literal

import pytest

from tests.unit.test_runtime_sizing import tree, v1, v2
from todostack.profiling.profile import StackProfile
from todostack.profiling.profiler import Profiler
from todostack.profiling.report import Report
from todostack.profiling.triggers import Trigger
from todostack.profiling.usage import Reading
from todostack.profiling.watcher import Watcher
from todostack.runtime.cgroups import read_cgroup_limits, read_cpu_usage_seconds, read_memory_working_set
from todostack.runtime.settings import ProfilingSettings

pytestmark = pytest.mark.unit
MIB = 1 << 20


@pytest.mark.parametrize(
    ("values", "in_a_row", "fired"),
    [
        # first breach reports; then 12 quiet checks, whatever the value does; then again
        ([0.9] * 14, 1, [0, 13]),
        ([0.1, 0.9, 0.1, 0.9, 0.1, 0.9], 1, [1]),  # flapping inside the quiet period: one report
        ([0.9, 0.9, 0.1, 0.9, 0.9, 0.9], 3, [5]),  # three in a row, and a dip starts the count again
        ([None, 0.5, 0.74], 1, []),  # unknown (warming up) and under the threshold
        ([0.75], 1, [0]),  # the threshold itself counts as over, as in autopprof
    ],
    ids=["suppressed-then-again", "flapping", "in-a-row", "under", "at-threshold"],
)
def test_trigger(values: list[float | None], in_a_row: int, fired: list[int]) -> None:
    trigger = Trigger("cpu", 0.75, suppress=12, in_a_row=in_a_row)
    assert [i for i, v in enumerate(values) if trigger.update(v)] == fired


class FakeReader:
    """Readings from a script: each step adds CPU seconds and sets memory."""

    def __init__(
        self, steps: Iterator[tuple[float, float, int, int]], *, scope: Literal["cgroup", "process"] = "process"
    ) -> None:
        self.steps = steps
        self.at = self.cpu = self.own_cpu = 0.0
        self.scope = scope

    def read(self) -> Reading:
        group_cpu, own_cpu, memory, own_memory = next(self.steps)
        self.at += 1.0
        self.cpu += group_cpu
        self.own_cpu += own_cpu
        return Reading(
            self.at,
            self.cpu,
            self.own_cpu,
            1.0,
            self.scope,
            memory,
            own_memory,
            100 * MIB,
            self.scope,
            None,
            None,
        )


class FakeProfiler(Profiler):
    def __init__(self) -> None:
        super().__init__()
        self.captures = 0

    def cpu(self, seconds: float) -> StackProfile:
        self.captures += 1
        return StackProfile((("cpu", "nanoseconds"),), ("cpu", "nanoseconds"), 1)

    def heap(self, seconds: float = 0.0) -> StackProfile:
        return StackProfile((("inuse_space", "bytes"),), ("space", "bytes"), 1)


class Collect:
    name = "collect"

    def __init__(self) -> None:
        self.reports: list[Report] = []

    def send(self, report: Report) -> None:
        self.reports.append(report)


class Broken:
    name = "broken"

    def send(self, report: Report) -> None:
        raise ConnectionError("the webhook is down")


SETTINGS = ProfilingSettings(window_checks=3, suppress_checks=4, lag_threshold_seconds=0, throttle_threshold=0)


def watcher(
    steps: list[tuple[float, float, int, int]], *, scope: Literal["cgroup", "process"] = "process", workers: int = 1
) -> Watcher:
    return Watcher(
        SETTINGS,
        FakeProfiler(),
        [Broken(), Collect()],
        workers=workers,
        reader=FakeReader(iter(steps), scope=scope),  # type: ignore[arg-type]
    )


def collected(w: Watcher) -> list[Report]:
    reporter = w.reporters[1]
    assert isinstance(reporter, Collect)
    return reporter.reports


def test_cpu_waits_for_a_full_window_then_reports_once() -> None:
    w = watcher([(0.9, 0.9, 10 * MIB, 10 * MIB)] * 8)
    results = [w.check() for _ in range(8)]
    # Window of 3 checks: the CPU usage is known from the 4th reading on.
    assert [r is not None for r in results] == [False, False, False, True, False, False, False, False]
    report = results[3]
    assert report is not None
    assert report.breach.metric == "cpu"
    assert report.breach.value == pytest.approx(0.9)
    assert report.breach.scope == "process"
    assert report.cpu is not None
    assert report.heap is not None
    assert report.tasks is not None
    # A reporter that fails does not stop the others.
    assert collected(w) == [report]


def test_warming_up_is_reported_in_the_state() -> None:
    w = watcher([(0.1, 0.1, MIB, MIB)] * 4)
    w.check()
    assert w.state.warming_up
    for _ in range(3):
        w.check()
    assert not w.state.warming_up


def test_memory_reports_at_once_and_cpu_once_its_window_is_full() -> None:
    w = watcher([(0.9, 0.9, 80 * MIB, 80 * MIB)] * 4)
    first = w.check()
    assert first is not None
    assert first.breach.metric == "memory"
    assert first.breach.value == pytest.approx(0.8)
    # The CPU is known from the 4th check on (a full window): over too, it reports on its own.
    later = [w.check() for _ in range(3)]
    assert later[:2] == [None, None]
    assert later[2] is not None
    assert later[2].breach.metric == "cpu"


@pytest.mark.parametrize(
    ("own_share", "reports"),
    [(0.9, 1), (0.05, 0)],
    ids=["the-busy-worker-profiles", "the-idle-sibling-does-not"],
)
def test_in_a_cgroup_only_the_worker_that_uses_it_profiles(own_share: float, reports: int) -> None:
    w = watcher([(0.9, 0.9 * own_share, MIB, MIB)] * 4, scope="cgroup", workers=2)
    for _ in range(4):
        w.check()
    assert len(collected(w)) == reports


def test_a_failed_read_is_counted_and_the_watcher_keeps_going() -> None:
    def steps() -> Iterator[tuple[float, float, int, int]]:
        yield (0.1, 0.1, MIB, MIB)
        raise OSError("cgroup file vanished")

    w = Watcher(
        replace(SETTINGS, interval_seconds=0.01),
        FakeProfiler(),
        [],
        reader=FakeReader(steps()),  # type: ignore[arg-type]
    )
    w.start()
    try:
        for _ in range(200):
            if w.state.failures >= 2:
                break
            w.profiler.stopping.wait(0.01)
    finally:
        w.stop()
    assert w.state.checks == 1
    assert w.state.failures >= 2


# -- usage read from fake cgroup trees ------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "cpu_seconds", "working_set"),
    [
        (
            v1({"/pod/app": (50000, 100000)}, {"/pod/app": 256 * MIB})
            | {
                "sys/fs/cgroup/cpu,cpuacct/pod/app/cpuacct.usage": "2500000000",
                "sys/fs/cgroup/memory/pod/app/memory.usage_in_bytes": str(200 * MIB),
                "sys/fs/cgroup/memory/pod/app/memory.stat": f"cache 1\ntotal_inactive_file {50 * MIB}\n",
            },
            2.5,
            150 * MIB,
        ),
        (
            v2({"/pod/app": "50000 100000"}, {"/pod/app": str(256 * MIB)})
            | {
                "sys/fs/cgroup/pod/app/cpu.stat": "usage_usec 4000000\nuser_usec 3000000\n",
                "sys/fs/cgroup/pod/app/memory.current": str(100 * MIB),
                "sys/fs/cgroup/pod/app/memory.stat": f"anon 5\ninactive_file {10 * MIB}\n",
            },
            4.0,
            90 * MIB,
        ),
        (v1({"/pod/app": (50000, 100000)}, {"/pod/app": 256 * MIB}), None, None),  # usage files missing
        ({}, None, None),  # no cgroups at all
    ],
    ids=["v1", "v2", "v1-files-missing", "none"],
)
def test_usage_from_cgroup_files(
    tmp_path: Path, files: dict[str, str], cpu_seconds: float | None, working_set: int | None
) -> None:
    limits = read_cgroup_limits(tree(tmp_path, files))
    assert read_cpu_usage_seconds(limits) == cpu_seconds
    assert read_memory_working_set(limits) == working_set


class ScriptedLag:
    """Event-loop lag samples from a script (``LagProbe.measure``'s contract)."""

    def __init__(self, samples: list[float | None]) -> None:
        self.samples = iter(samples)

    def measure(self) -> float | None:
        return next(self.samples)


@pytest.mark.parametrize(
    ("samples", "fired"),
    [
        ([0.0, 0.9, 0.0, 0.0, 0.0, 0.0], []),  # one stall of the whole machine: no report
        ([0.9, 0.9, 0.0, 0.9, 0.9, 0.9], [5]),  # a loop that stays blocked: the third check in a row
    ],
    ids=["one-stall", "lasting"],
)
def test_event_loop_lag_must_last_checks_in_a_row(samples: list[float | None], fired: list[int]) -> None:
    settings = replace(SETTINGS, lag_threshold_seconds=0.5)
    assert settings.lag_checks_in_a_row == 3  # the default
    quiet = [(0.0, 0.0, 10 * MIB, 10 * MIB)] * len(samples)
    w = Watcher(
        settings,
        FakeProfiler(),
        [Collect()],
        reader=FakeReader(iter(quiet)),  # type: ignore[arg-type]
        lag=ScriptedLag(samples),  # type: ignore[arg-type]
    )
    reports = [w.check() for _ in samples]
    assert [i for i, r in enumerate(reports) if r is not None] == fired
    assert all(r.breach.metric == "lag" for r in reports if r is not None)
