"""What the autoprof watcher costs while nothing is over a threshold: the CPU of one check.

Runs the real watcher's ``check()`` (cgroup and /proc reads, the lag probe, the metrics) 2,000
times in a thread and divides by its thread CPU time; the idle overhead is that over the check
interval. (A throughput A/B cannot resolve differences this small: see bench/ab.py's section.)

    .venv/bin/python bench/autoprof_idle.py
"""

from __future__ import annotations

import asyncio
import time

from todostack.observability.metrics import Metrics
from todostack.profiling.profiler import Profiler
from todostack.profiling.usage import LagProbe
from todostack.profiling.watcher import Watcher
from todostack.runtime.settings import ProfilingSettings


async def main() -> None:
    settings = ProfilingSettings()
    watcher = Watcher(settings, Profiler(), [], lag=LagProbe(asyncio.get_running_loop()), metrics=Metrics())

    def checks(n: int = 2000) -> float:
        started = time.thread_time_ns()
        for _ in range(n):
            watcher.check()
        return (time.thread_time_ns() - started) / n

    per_check_ns = await asyncio.to_thread(checks)
    share = per_check_ns / (settings.interval_seconds * 1e9)
    every = settings.interval_seconds
    print(f"one check: {per_check_ns / 1000:.0f} us of CPU; every {every:g} s: {share:.4%} of a core")


if __name__ == "__main__":
    asyncio.run(main())
