"""The blocked-loop check that every async test runs under: what it catches and what it forgives."""

from __future__ import annotations

import asyncio
import gc
import time

from tests.loopwatch import BlockedLoopWatch, setting_up


def _run_callbacks(watch: BlockedLoopWatch, hold: float, *, collect: float = 0.0, set_up: bool = False) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def callback() -> None:
            time.sleep(hold)  # a blocking call inside the loop, the thing the check exists for
            if collect:
                _slow_collection(collect)
            done.set_result(None)

        loop.call_soon(callback)
        if set_up:
            with setting_up():
                await done
        else:
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


class _Slow:
    """An object whose finalizer, run by the garbage collector, takes ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.me = self  # a cycle: only the collector frees it

    def __del__(self) -> None:
        time.sleep(self.seconds)


def _slow_collection(seconds: float) -> None:
    _Slow(seconds)
    gc.collect()  # as a collection that an allocation set off would, inside the callback


def test_a_garbage_collection_inside_a_callback_is_not_the_callbacks_fault() -> None:
    watch = BlockedLoopWatch(limit=0.05)
    _run_callbacks(watch, hold=0.0, collect=0.2)
    assert watch.seen == []


def test_blocking_beside_a_collection_is_still_reported() -> None:
    watch = BlockedLoopWatch(limit=0.05)
    _run_callbacks(watch, hold=0.2, collect=0.2)
    assert len(watch.seen) == 1


def test_a_step_taken_while_an_app_starts_or_stops_is_set_up_not_the_test() -> None:
    watch = BlockedLoopWatch(limit=0.05)
    _run_callbacks(watch, hold=0.2, set_up=True)
    assert watch.seen == []
    # ... and only while it does.
    _run_callbacks(watch, hold=0.2)
    assert len(watch.seen) == 1


def test_the_watch_puts_asyncio_back() -> None:
    original = asyncio.events.Handle._run
    with BlockedLoopWatch().watching():
        assert asyncio.events.Handle._run is not original
    assert asyncio.events.Handle._run is original
