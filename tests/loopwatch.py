"""The blocked-loop check every async test runs under (``tests/conftest.py``).

A step of the event loop (one callback, or one step of a task) that holds the loop past a limit is
recorded, net of what is not its fault: time the thread waited for a CPU, the garbage collector's
pauses, and steps taken while a test starts or stops an app (`setting_up`).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager

# The longest a callback may hold the event loop in a test's own call.
BLOCKED_LOOP_LIMIT = 0.1


def _run_queue_wait_ns() -> int:
    """Nanoseconds this thread has spent runnable but waiting for a CPU (the kernel's schedstat).

    On a busy machine a callback's wall time includes time the kernel gave the CPU to someone
    else; that is not the callback holding the loop, so the check below subtracts it.
    """
    with open("/proc/thread-self/schedstat", "rb") as stat:
        return int(stat.read().split()[1])


def _where(handle: asyncio.events.Handle) -> str:
    """For a task's step: the task, and where its coroutine stopped after the step that held the loop."""
    task = getattr(handle._callback, "__self__", None)  # type: ignore[attr-defined]
    if not isinstance(task, asyncio.Task):
        return ""
    frames = task.get_stack()
    last = frames[-1] if frames else None
    place = f"{last.f_code.co_filename}:{last.f_lineno} in {last.f_code.co_name}" if last else "finished"
    return f"; task {task.get_name()} ({task.get_coro()!r}), now at {place}"


class _CollectorClock:
    """Nanoseconds the garbage collector has run in this process (``gc.callbacks``).

    A collection runs wherever an allocation happens to cross the threshold, and its length grows
    with everything the test process still holds (hundreds of tests' apps and clients), not with
    the code under test: it lands inside whichever callback allocated, a 0.1 s pause in a test
    that did nothing slow. The check below leaves it out, as it leaves out run-queue waits."""

    def __init__(self) -> None:
        self.total_ns = 0
        self._started = 0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter_ns()
        else:
            self.total_ns += time.perf_counter_ns() - self._started


_COLLECTOR = _CollectorClock()
gc.callbacks.append(_COLLECTOR)


class _SettingUp:
    """How many in-process apps are starting or stopping right now (see `setting_up`)."""

    depth = 0


@contextmanager
def setting_up() -> Iterator[None]:
    """Steps of the loop taken inside are an app starting or stopping, not the code under test.

    A test that needs an app of its own settings starts it in its body, where the check is on.
    Starting is not the request path: it runs migrations and builds the OpenAPI document in a
    thread, and while that thread holds the GIL every step of the loop that does I/O (asyncio's
    debug mode reads the source files of each new task's stack) waits for it, 5 ms a switch;
    a step of the feed or the log flusher started meanwhile measured 0.107-0.123 s on a busy
    machine. Set-up in a fixture is not watched at all; this makes set-up in a body the same.
    """
    _SettingUp.depth += 1
    try:
        yield
    finally:
        _SettingUp.depth -= 1


class BlockedLoopWatch:
    """Records callbacks that held the event loop past a limit, net of run-queue waits and of
    the garbage collector's pauses, outside `setting_up`."""

    def __init__(self, limit: float = BLOCKED_LOOP_LIMIT) -> None:
        self.limit = limit
        self.seen: list[str] = []

    @contextmanager
    def watching(self) -> Iterator[None]:
        original = asyncio.events.Handle._run
        watch = self

        def timed_run(handle: asyncio.events.Handle) -> None:
            started, waited, collected = time.perf_counter(), _run_queue_wait_ns(), _COLLECTOR.total_ns
            try:
                original(handle)
            finally:
                wall = time.perf_counter() - started
                if wall > watch.limit and not _SettingUp.depth:
                    held = wall - (_run_queue_wait_ns() - waited + _COLLECTOR.total_ns - collected) / 1e9
                    if held > watch.limit:
                        watch.seen.append(f"{handle!r} held the loop {held:.3f} s ({wall:.3f} s wall){_where(handle)}")

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            asyncio.events.Handle._run = original  # type: ignore[method-assign]
