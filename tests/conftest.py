"""Test-wide rules: tier markers from folders, asyncio debug mode, blocked-loop detection."""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Every event loop created from here on runs in debug mode: never-awaited coroutines are
# reported with their origin, and any callback that holds the loop for more than
# 100 ms (asyncio's slow_callback_duration) is logged; the hook below fails a test whose
# own call held its loop that long.
os.environ.setdefault("PYTHONASYNCIODEBUG", "1")
# There is no default key that signs tokens, and PostgreSQL refuses to start without one: the
# servers tests start get one (a test about its absence takes it out of its child's environment).
os.environ.setdefault("TODOSTACK_SECRET_KEY", secrets.token_urlsafe(32))

_TIERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).parent.name
        if tier in _TIERS:
            item.add_marker(getattr(pytest.mark, tier))


def pytest_collection_finish(session: pytest.Session) -> None:
    # Everything imported and collected lives for the whole run: out of the collector's way
    # (as the service's server process does before forking), so that a full collection cannot
    # land inside a test body as a 0.2 s pause and trip the blocked-loop check below.
    gc.collect()
    gc.freeze()


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


class BlockedLoopWatch:
    """Records callbacks that held the event loop past a limit, net of run-queue waits and of
    the garbage collector's pauses."""

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
                if wall > watch.limit:
                    held = wall - (_run_queue_wait_ns() - waited + _COLLECTOR.total_ns - collected) / 1e9
                    if held > watch.limit:
                        watch.seen.append(f"{handle!r} held the loop {held:.3f} s ({wall:.3f} s wall){_where(handle)}")

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            asyncio.events.Handle._run = original  # type: ignore[method-assign]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail an async test whose body blocked its event loop for over 100 ms.

    Only the test's own call is watched, not fixture set-up and tear-down (starting and closing
    pools and servers), which is test infrastructure and shares a busy machine. Time the thread
    spent waiting for a CPU does not count (see `_run_queue_wait_ns`).
    """
    if not inspect.iscoroutinefunction(getattr(item, "function", None)):
        return (yield)
    watch = BlockedLoopWatch()
    with watch.watching():
        result = yield
    if watch.seen:
        pytest.fail("the event loop was blocked:\n" + "\n".join(watch.seen))
    return result
