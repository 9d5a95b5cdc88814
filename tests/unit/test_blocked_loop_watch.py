"""The blocked-loop check that every async test runs under: what it catches and what it forgives."""

from __future__ import annotations

import asyncio
import time

from tests.conftest import BlockedLoopWatch


def _run_callbacks(watch: BlockedLoopWatch, hold: float) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def callback() -> None:
            time.sleep(hold)  # a blocking call inside the loop, the thing the check exists for
            done.set_result(None)

        loop.call_soon(callback)
        await done

    with watch.watching():
        asyncio.run(main())


def test_a_callback_that_holds_the_loop_is_reported() -> None:
    watch = BlockedLoopWatch(limit=0.05)
    _run_callbacks(watch, hold=0.2)
    assert len(watch.seen) == 1
    assert "held the loop" in watch.seen[0]


def test_a_short_callback_is_not_reported() -> None:
    watch = BlockedLoopWatch(limit=0.05)
    _run_callbacks(watch, hold=0.0)
    assert watch.seen == []


def test_the_watch_puts_asyncio_back() -> None:
    original = asyncio.events.Handle._run
    with BlockedLoopWatch().watching():
        assert asyncio.events.Handle._run is not original
    assert asyncio.events.Handle._run is original
