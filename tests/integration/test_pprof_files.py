"""The profiles this service writes are read by the real tool: ``go tool pprof -top``."""

from __future__ import annotations

import asyncio
import threading
import tracemalloc
from pathlib import Path

import pytest

from tests.pprof_tool import pprof_top
from todostack.profiling.cpu import sample_cpu
from todostack.profiling.frames import LoopThreads
from todostack.profiling.heap import heap_profile
from todostack.profiling.pprof import encode
from todostack.profiling.profile import merge
from todostack.profiling.tasks import task_dump

pytestmark = pytest.mark.integration


def spin_for_the_pprof_tool(stop: threading.Event) -> None:
    while not stop.is_set():
        total = 0
        for i in range(500):
            total += i


def test_go_tool_pprof_reads_a_cpu_profile_and_names_the_busy_function(tmp_path: Path) -> None:
    stop = threading.Event()
    busy = threading.Thread(target=spin_for_the_pprof_tool, args=(stop,))
    busy.start()
    try:
        profile = sample_cpu(1.0)
    finally:
        stop.set()
        busy.join()
    path = tmp_path / "pprof.todostack.test.samples.cpu.pb.gz"
    path.write_bytes(encode(profile))
    rows = pprof_top(path)
    assert rows[0][1] == "spin_for_the_pprof_tool"
    assert rows[0][0].endswith("s")  # a duration: the cpu/nanoseconds sample type
    # Merged workers stay readable, and the pid label is there to filter on.
    merged = tmp_path / "merged.pb.gz"
    merged.write_bytes(encode(merge({1: profile, 2: profile})))
    assert pprof_top(merged, "-tagfocus=pid=^2$")[0][1] == "spin_for_the_pprof_tool"


held: list[bytearray] = []


def allocate_for_the_pprof_tool() -> None:
    for _ in range(40):
        held.append(bytearray(256 * 1024))


def test_go_tool_pprof_reads_a_heap_profile_and_names_the_allocating_function(tmp_path: Path) -> None:
    tracemalloc.start(1)
    try:
        allocate_for_the_pprof_tool()
        profile = heap_profile()
    finally:
        tracemalloc.stop()
        held.clear()
    path = tmp_path / "pprof.todostack.test.inuse_objects.inuse_space.heap.pb.gz"
    path.write_bytes(encode(profile))
    flat, function = pprof_top(path)[0]
    assert function == "allocate_for_the_pprof_tool"
    assert flat.endswith("MB")  # inuse_space, in bytes: 10 MiB


async def waiting_for_the_pprof_tool(gate: asyncio.Event) -> None:
    await gate.wait()


async def test_go_tool_pprof_reads_a_task_dump(tmp_path: Path) -> None:
    loops = LoopThreads()
    loops.register(asyncio.get_running_loop())
    gate = asyncio.Event()
    tasks = [asyncio.create_task(waiting_for_the_pprof_tool(gate)) for _ in range(5)]
    await asyncio.sleep(0)
    try:
        profile = await asyncio.to_thread(task_dump, loops)
    finally:
        gate.set()
        await asyncio.gather(*tasks)
    path = tmp_path / "pprof.todostack.test.tasks.pb.gz"
    path.write_bytes(encode(profile))
    rows = await asyncio.to_thread(pprof_top, path)
    # Five tasks, each suspended in Event.wait, one level down from the coroutine.
    assert rows[0] == ("5", "Event.wait")
    cumulative = await asyncio.to_thread(pprof_top, path, "-cum")
    assert ("0", "waiting_for_the_pprof_tool") in cumulative
