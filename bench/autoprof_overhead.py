"""What a running CPU profile costs the worker: throughput of a busy main thread with and without it.

The main thread runs Python work 40 frames deep (a stand-in for a request handler: calls, dict
and string work, no I/O) for a fixed time and counts what it got done; a CPU profile is taken
meanwhile by the real sampler (``sample_cpu`` with the SIGPROF main-thread sampler, as autoprof
runs it), at each sampling rate asked for. What is compared is CPU per unit of work: the main
thread's CPU time (the SIGPROF handler runs there) plus the sampler thread's, so that other
processes on a shared machine do not decide the figure (wall-clock rates moved by ±30 % here). A
worker that is busy (the case that triggers a profile) loses that share of its throughput.
Rounds alternate (off, then each rate); medians of the rounds.

    .venv/bin/python bench/autoprof_overhead.py [--seconds 3] [--rounds 5] [--hz 100,50,25]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from todostack.profiling.cpu import MainThreadSampler, sample_cpu


def _work(depth: int) -> int:
    if depth:
        return _work(depth - 1) + 1
    record = {"id": "a1b2", "title": "pay invoice", "tags": ["work", "urgent"], "order": 7}
    return len(",".join(f"{k}={v}" for k, v in record.items()))


def _busy(seconds: float) -> tuple[int, float]:
    """(units of work, main-thread CPU seconds) for ``seconds`` of wall time."""
    done = 0
    cpu = time.thread_time()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(100):
            _work(40)
        done += 100
    return done, time.thread_time() - cpu


def _round(seconds: float, hz: int | None, main: MainThreadSampler) -> float:
    """CPU microseconds per unit of work, the sampler's included."""
    if hz is None:
        done, cpu = _busy(seconds)
        return cpu / done * 1e6
    sampler_cpu: list[float] = []

    def sample() -> None:
        started = time.thread_time()
        sample_cpu(seconds, hz=hz, main=main)
        sampler_cpu.append(time.thread_time() - started)

    sampler = threading.Thread(target=sample)
    sampler.start()
    done, cpu = _busy(seconds)
    sampler.join()
    return (cpu + sampler_cpu[0]) / done * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hz", default="100,50,25")
    args = parser.parse_args()
    main_sampler = MainThreadSampler()
    assert main_sampler.install(), "SIGPROF is taken"
    rates: list[int | None] = [None, *(int(h) for h in args.hz.split(","))]
    results: dict[int | None, list[float]] = {hz: [] for hz in rates}
    for _ in range(args.rounds):
        for hz in rates:
            results[hz].append(_round(args.seconds, hz, main_sampler))
    off = statistics.median(results[None])
    print(f"| sampling | CPU µs per unit of work (median of {args.rounds}) | overhead while profiling |")
    print("| --- | --- | --- |")
    print(f"| off | {off:.2f} | — |")
    for hz in rates[1:]:
        on = statistics.median(results[hz])
        print(f"| {hz} Hz | {on:.2f} | {on / off - 1:+.1%} |")


if __name__ == "__main__":
    main()
