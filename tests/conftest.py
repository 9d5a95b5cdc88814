"""Test-wide rules: tier markers from folders, asyncio debug mode, blocked-loop detection."""

from __future__ import annotations

import gc
import inspect
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopwatch import BlockedLoopWatch

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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail an async test whose body blocked its event loop for over 100 ms.

    Only the test's own call is watched, not fixture set-up and tear-down (starting and closing
    pools and servers), nor an app a test starts in its body (`tests.asgi.serving`): that is test
    infrastructure and shares a busy machine. Time the thread spent waiting for a CPU and the
    collector's pauses do not count (`tests/loopwatch.py`).
    """
    if not inspect.iscoroutinefunction(getattr(item, "function", None)):
        return (yield)
    watch = BlockedLoopWatch()
    with watch.watching():
        result = yield
    if watch.seen:
        pytest.fail("the event loop was blocked:\n" + "\n".join(watch.seen))
    return result
