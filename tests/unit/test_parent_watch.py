"""A worker whose server process is gone drains, then exits if the drain never stops it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import pytest

from todostack.runtime.parent import SERVER_PID_ENV, running_before_me, server_to_watch, watch_server


@pytest.mark.parametrize(
    ("environ", "pid", "expected"),
    [
        ({SERVER_PID_ENV: "100"}, 200, 100),  # started by that server
        ({SERVER_PID_ENV: "100"}, 100, None),  # the server itself (one uvicorn process)
        ({}, 200, None),  # not started by `todostack serve` (tests, in-process)
        ({SERVER_PID_ENV: "not-a-pid"}, 200, None),
    ],
)
def test_only_a_process_started_by_the_server_watches_it(
    environ: dict[str, str], pid: int, expected: int | None
) -> None:
    assert server_to_watch(environ, pid) == expected


def test_the_server_counts_as_running_only_if_it_started_before_this_process() -> None:
    assert running_before_me(os.getppid())  # what started this test run
    later = subprocess.Popen(["sleep", "30"])
    try:
        assert not running_before_me(later.pid)  # as a process reusing a dead server's pid would be
    finally:
        later.kill()
        later.wait()
    assert not running_before_me(later.pid)  # gone
    zombie = subprocess.Popen(["true"])
    while Path(f"/proc/{zombie.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.01)
    try:
        assert not running_before_me(zombie.pid)
    finally:
        zombie.wait()


class _Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def drain(self) -> None:
        self.events.append("drain")

    def exit(self, code: int) -> None:
        self.events.append(f"exit {code}")


async def test_polling_drains_once_the_parent_changes_and_exits_if_still_running() -> None:
    states = iter([True, True, True, False])
    seen = _Recorder()
    await asyncio.wait_for(
        watch_server(
            100,
            drain=seen.drain,
            exit_after=0.01,
            every=0.001,
            running=lambda _: next(states),
            hard_exit=seen.exit,
            use_pidfd=False,
        ),
        timeout=5,
    )
    assert seen.events == ["drain", "exit 70"]


async def test_a_graceful_stop_cancels_the_watch_before_the_hard_exit() -> None:
    seen = _Recorder()
    task = asyncio.create_task(
        watch_server(
            100, drain=seen.drain, exit_after=30, running=lambda _: False, hard_exit=seen.exit, use_pidfd=False
        )
    )
    while not seen.events:
        await asyncio.sleep(0.001)
    task.cancel()  # the worker's lifespan ends: worker_runtime cancels its tasks
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen.events == ["drain"]


async def test_the_pidfd_wakes_the_watch_when_the_process_exits() -> None:
    # A real process stands in for the server: the pidfd turns readable when it exits.
    server = subprocess.Popen(["sleep", "30"])
    try:
        seen = _Recorder()
        task = asyncio.create_task(
            watch_server(
                server.pid,
                drain=seen.drain,
                exit_after=0,
                every=3600,  # a fallback to polling would not notice within the test
                running=lambda _: True,  # stays "running": only the pidfd can tell
                hard_exit=seen.exit,
            )
        )
        await asyncio.sleep(0.1)
        assert seen.events == []  # alive: nothing happens
        server.kill()
        await asyncio.wait_for(task, timeout=5)
        assert seen.events == ["drain", "exit 70"]
    finally:
        server.kill()
        server.wait()


async def test_a_server_gone_before_the_worker_watches_is_noticed_at_once() -> None:
    server = subprocess.Popen(["true"])
    server.wait()  # reaped: its pid names nothing now
    seen = _Recorder()
    await asyncio.wait_for(
        watch_server(server.pid, drain=seen.drain, exit_after=0, every=3600, hard_exit=seen.exit), timeout=5
    )
    assert seen.events == ["drain", "exit 70"]
