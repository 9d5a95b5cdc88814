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


class BlockedLoopWatch:
    """Records callbacks that held the event loop past a limit, net of run-queue waits."""

    def __init__(self, limit: float = BLOCKED_LOOP_LIMIT) -> None:
        self.limit = limit
        self.seen: list[str] = []

    @contextmanager
    def watching(self) -> Iterator[None]:
        original = asyncio.events.Handle._run
        watch = self

        def timed_run(handle: asyncio.events.Handle) -> None:
            started, waited = time.perf_counter(), _run_queue_wait_ns()
            try:
                original(handle)
            finally:
                wall = time.perf_counter() - started
                if wall > watch.limit:
                    held = wall - (_run_queue_wait_ns() - waited) / 1e9
                    if held > watch.limit:
                        watch.seen.append(f"{handle!r} held the loop {held:.3f} s ({wall:.3f} s wall)")

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
