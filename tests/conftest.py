"""Test-wide rules: tier markers from folders, asyncio debug mode, blocked-loop detection."""

from __future__ import annotations

import gc
import inspect
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Every event loop created from here on runs in debug mode: never-awaited coroutines are
# reported with their origin, and any callback that holds the loop for more than
# 100 ms (asyncio's slow_callback_duration) is logged, which the fixture below turns into a failure.
os.environ.setdefault("PYTHONASYNCIODEBUG", "1")

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


class _SlowCallbacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing") and "took" in message:
            self.seen.append(message)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail an async test whose body blocked its event loop for over 100 ms.

    Only the test's own call is watched, not fixture set-up and tear-down (starting and closing
    pools and servers), which is test infrastructure and shares a busy machine.
    """
    if not inspect.iscoroutinefunction(getattr(item, "function", None)):
        return (yield)
    handler = _SlowCallbacks()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        result = yield
    finally:
        logger.removeHandler(handler)
    if handler.seen:
        pytest.fail("the event loop was blocked:\n" + "\n".join(handler.seen))
    return result
