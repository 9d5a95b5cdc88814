"""The request context: deadline arithmetic, causes, cleanup hooks and fanned-out work."""

from __future__ import annotations

import asyncio
import logging

import pytest

from todostack.context import Cancelled, Cause, DeadlineExceeded, RequestContext
from todostack.delivery.http.asgi.budgets import Budgets, parse_request_timeout


async def _settle() -> None:
    """Let hook tasks run (each hook runs in a task of its own)."""
    for _ in range(3):
        await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (None, None),  # no deadline: nothing to hand to the database
        (10.0, 10.0),
        (0.25, 0.25),
        (0.0, 0.0),
        (-3.0, 0.0),  # past: zero left, never negative
    ],
)
async def test_remaining_is_the_time_left_and_never_negative(offset: float | None, expected: float | None) -> None:
    now = asyncio.get_running_loop().time()
    ctx = RequestContext("r", None if offset is None else now + offset)
    left = ctx.remaining()
    if expected is None:
        assert left is None
    else:
        assert left is not None
        assert expected - 0.05 <= left <= expected
    assert ctx.expired() is (expected == 0.0)


async def test_check_raises_once_the_deadline_has_passed_and_records_the_cause() -> None:
    ctx = RequestContext("r", asyncio.get_running_loop().time() - 1)
    with pytest.raises(DeadlineExceeded):
        ctx.check()
    assert ctx.cause is Cause.DEADLINE_EXCEEDED


async def test_check_raises_for_a_cancelled_context_with_its_cause() -> None:
    ctx = RequestContext("r")
    ctx.check()  # nothing to say yet
    ctx.record(Cause.SHUTDOWN)
    with pytest.raises(Cancelled) as caught:
        ctx.check()
    assert caught.value.cause is Cause.SHUTDOWN


@pytest.mark.parametrize(
    ("causes", "kept"),
    [
        ([Cause.DEADLINE_EXCEEDED], Cause.DEADLINE_EXCEEDED),
        ([Cause.CLIENT_DISCONNECTED, Cause.DEADLINE_EXCEEDED], Cause.CLIENT_DISCONNECTED),
        ([Cause.SHUTDOWN, Cause.OVERLOADED, Cause.DEADLINE_EXCEEDED], Cause.SHUTDOWN),
    ],
)
async def test_the_first_cause_wins(causes: list[Cause], kept: Cause) -> None:
    ctx = RequestContext("r")
    results = [ctx.cancel(cause) for cause in causes]
    assert results == [True] + [False] * (len(causes) - 1)
    assert ctx.cause is kept


async def test_cancel_interrupts_the_bound_task_with_the_cause_as_message() -> None:
    ctx = RequestContext("r")
    task = asyncio.create_task(asyncio.sleep(10))
    ctx.bind(task)
    await asyncio.sleep(0)
    ctx.cancel(Cause.CLIENT_DISCONNECTED)
    with pytest.raises(asyncio.CancelledError) as caught:
        await task
    assert caught.value.args == ("client_disconnected",)


async def test_a_finished_context_cannot_be_cancelled_any_more() -> None:
    ctx = RequestContext("r")
    ctx.finish()
    assert ctx.cancel(Cause.SHUTDOWN) is False
    assert ctx.cause is None


# -- cleanup hooks (Go's context.AfterFunc) ---------------------------------------------------------


@pytest.mark.parametrize("end", ["finish", "cancel", "finish-twice", "cancel-then-finish"])
async def test_a_hook_runs_exactly_once_when_the_request_ends_or_is_cancelled(end: str) -> None:
    ctx = RequestContext("r")
    calls: list[str] = []
    ctx.after(lambda: calls.append("ran"))
    for step in end.split("-"):
        if step == "cancel":
            ctx.cancel(Cause.DEADLINE_EXCEEDED)
        else:
            ctx.finish()
        await _settle()
    assert calls == ["ran"]


async def test_a_hook_runs_in_its_own_task() -> None:
    ctx = RequestContext("r")
    seen: list[asyncio.Task[object] | None] = []
    ctx.after(lambda: seen.append(asyncio.current_task()))
    ctx.finish()
    assert seen == []  # not called inline
    await _settle()
    assert len(seen) == 1
    assert seen[0] is not None
    assert seen[0] is not asyncio.current_task()


async def test_async_hooks_are_awaited() -> None:
    ctx = RequestContext("r")
    done = asyncio.Event()

    async def release() -> None:
        await asyncio.sleep(0)
        done.set()

    ctx.after(release)
    ctx.finish()
    await asyncio.wait_for(done.wait(), 1)


@pytest.mark.parametrize(
    ("when", "prevented", "ran"),
    [
        ("before-end", True, False),
        ("after-end", False, True),
    ],
)
async def test_stop_says_whether_it_prevented_the_call(when: str, prevented: bool, ran: bool) -> None:
    ctx = RequestContext("r")
    calls: list[int] = []
    stop = ctx.after(lambda: calls.append(1))
    if when == "after-end":
        ctx.finish()
        await _settle()
    assert stop() is prevented
    assert stop() is False  # a second stop never prevents anything
    ctx.finish()
    await _settle()
    assert bool(calls) is ran


async def test_after_on_a_finished_context_runs_at_once_and_cannot_be_stopped() -> None:
    ctx = RequestContext("r")
    ctx.finish()
    calls: list[int] = []
    stop = ctx.after(lambda: calls.append(1))
    assert stop() is False
    await _settle()
    assert calls == [1]


async def test_a_failing_hook_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    ctx = RequestContext("r-42")
    calls: list[str] = []

    def broken() -> None:
        raise RuntimeError("hook broke")

    ctx.after(broken)
    ctx.after(lambda: calls.append("second"))
    with caplog.at_level(logging.ERROR, logger="todostack.context"):
        ctx.finish()  # raises nothing into the request
        await _settle()
    assert calls == ["second"]
    assert any("r-42" in r.getMessage() and r.exc_info for r in caplog.records)


# -- fanned-out work ------------------------------------------------------------------------------


# -- the HTTP layer's parsing of budgets -------------------------------------------------------------


@pytest.mark.parametrize(("raw", "seconds"), [("2.5", 2.5), ("1", 1.0), ("0.001", 0.001), (" 3 ", 3.0)])
def test_request_timeout_accepts_positive_seconds(raw: str, seconds: float) -> None:
    assert parse_request_timeout(raw) == seconds


@pytest.mark.parametrize("raw", ["", "abc", "0", "-1", "nan", "inf", "1e400", "2s"])
def test_request_timeout_refuses_anything_else(raw: str) -> None:
    with pytest.raises(ValueError, match="Request-Timeout"):
        parse_request_timeout(raw)


@pytest.mark.parametrize(
    ("method", "budget"),
    [("GET", 5.0), ("HEAD", 5.0), ("OPTIONS", 5.0), ("POST", 10.0), ("PATCH", 10.0), ("PUT", 10.0), ("DELETE", 10.0)],
)
def test_reads_and_writes_have_their_own_budget(method: str, budget: float) -> None:
    assert Budgets(read_seconds=5.0, write_seconds=10.0).for_method(method) == budget
