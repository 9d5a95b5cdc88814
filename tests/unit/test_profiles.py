"""Profiles as data: the pprof codec, merging workers, top rows, flame graphs, task dumps."""

from __future__ import annotations

import asyncio
import gzip
import sys
import threading
import time
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from todostack.profiling.cpu import MainThreadSampler, sample_cpu
from todostack.profiling.flamegraph import render_flamegraph
from todostack.profiling.frames import LoopThreads, label_of
from todostack.profiling.heap import function_at
from todostack.profiling.pprof import ProfileFormatError, decode, encode
from todostack.profiling.profile import Frame, StackProfile, merge
from todostack.profiling.tasks import render_tasks, task_dump

pytestmark = pytest.mark.unit

LEAF = Frame("parse_row", "app/rows.py", 12, 10)
MIDDLE = Frame("list_todos", "app/todos.py", 40, 35)
ROOT = Frame("handle", "app/http.py", 7, 5)


def cpu_profile() -> StackProfile:
    p = StackProfile(
        (("samples", "count"), ("cpu", "nanoseconds")),
        ("cpu", "nanoseconds"),
        10_000_000,
        time_nanos=1_700_000_000_000_000_000,
        duration_nanos=2_000_000_000,
        default_sample_type="cpu",
    )
    p.add((LEAF, MIDDLE, ROOT), (3, 30_000_000), (("task", "Task-7"), ("thread", "MainThread")))
    p.add((MIDDLE, ROOT), (1, 10_000_000), (("thread", "MainThread"),))
    p.add((Frame("<&>", 'odd "name".py', 1),), (1, 5_000_000))
    p.comments.append("a test profile")
    return p


def test_encode_then_decode_gives_the_same_profile() -> None:
    original = cpu_profile()
    data = encode(original)
    assert data[:2] == b"\x1f\x8b"  # gzipped, as pprof files are
    back = decode(data)
    assert back.sample_types == original.sample_types
    assert back.period_type == original.period_type
    assert back.period == original.period
    assert back.time_nanos == original.time_nanos
    assert back.duration_nanos == original.duration_nanos
    assert back.default_sample_type == "cpu"
    assert back.comments == ["a test profile"]
    assert back.samples == original.samples


def test_decode_reads_the_uncompressed_form_too() -> None:
    assert decode(gzip.decompress(encode(cpu_profile()))).total() == 45_000_000


@pytest.mark.parametrize("data", [b"\x1f\x8bnot gzip", b"\xff\xff\xff", b"\x0a\x05ab"])
def test_garbage_is_refused_with_a_format_error(data: bytes) -> None:
    with pytest.raises(ProfileFormatError):
        decode(data)


def test_top_ranks_functions_by_flat_value_and_knows_cumulative() -> None:
    rows = cpu_profile().top()
    assert [(r.function, r.flat, r.cumulative) for r in rows] == [
        ("parse_row", 30_000_000, 30_000_000),
        ("list_todos", 10_000_000, 40_000_000),
        ("<&>", 5_000_000, 5_000_000),
    ]
    assert cpu_profile().top(sample_type="samples")[0].flat == 3


def test_merge_labels_every_sample_with_its_worker() -> None:
    merged = merge({101: cpu_profile(), 202: cpu_profile()})
    assert merged.total() == 2 * cpu_profile().total()
    pids = {dict(labels)["pid"] for _, labels in merged.samples}
    assert pids == {"101", "202"}
    assert decode(encode(merged)).samples == merged.samples


def test_flamegraph_is_well_formed_svg_with_escaped_names() -> None:
    svg = render_flamegraph(cpu_profile(), "title <with> & marks")
    root = ET.fromstring(svg)  # noqa: S314 - our own output; raises on malformed XML (unescaped names)
    assert root.tag.endswith("svg")
    titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("parse_row (app/rows.py)") for t in titles)
    assert any(t.startswith('<&> (odd "name".py)') for t in titles)
    assert "<script" not in svg


def test_flamegraph_of_an_empty_profile_says_so() -> None:
    empty = StackProfile((("cpu", "nanoseconds"),), ("cpu", "nanoseconds"), 1)
    assert "no samples" in render_flamegraph(empty, "nothing")


def outer_for_function_at() -> int:
    def inner() -> int:
        return 1  # INNER

    return inner()  # OUTER


def test_function_at_finds_the_innermost_function() -> None:
    lines = Path(__file__).read_text().splitlines()
    inner = lines.index("        return 1  # INNER") + 1
    outer = lines.index("    return inner()  # OUTER") + 1
    assert function_at(__file__, inner)[0] == "outer_for_function_at.<locals>.inner"
    assert function_at(__file__, outer) == ("outer_for_function_at", outer - 4)
    assert function_at(__file__, 1) == ("<module>", 1)
    assert function_at("/no/such/file.py", 3) == ("<module>", 1)


def _wait_until_asleep(thread: threading.Thread, timeout: float = 30) -> None:
    """Until the kernel has ``thread`` sleeping (state S) with ``Event.wait`` on its stack."""
    stat = Path(f"/proc/self/task/{thread.native_id}/stat")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = sys._current_frames().get(thread.ident or -1)
        waiting = frame is not None and any(f.f_code.co_name == "wait" for f, _ in traceback.walk_stack(frame))
        if waiting and stat.read_text().rpartition(")")[2].split()[0] == "S":
            return
        time.sleep(0.01)
    raise AssertionError(f"{thread.name} did not go to sleep within {timeout:g} s")


def test_cpu_sampler_sees_the_busy_thread_and_not_the_idle_one() -> None:
    stop = threading.Event()

    def spin_in_a_distinctive_function() -> None:
        while not stop.is_set():
            sum(range(200))

    busy = threading.Thread(target=spin_in_a_distinctive_function, name="busy")
    idle = threading.Thread(target=stop.wait, name="idle")
    busy.start()
    idle.start()
    try:
        # The idle thread's own start-up is CPU it used: sample only once it sleeps in its wait
        # (on a busy machine the start-up can still be running when the sampler starts).
        _wait_until_asleep(idle)
        profile = sample_cpu(0.5, hz=200)
    finally:
        stop.set()
        busy.join()
        idle.join()
    threads = {dict(labels).get("thread") for _, labels in profile.samples}
    assert "busy" in threads
    assert "idle" not in threads  # a waiting thread uses no CPU, so it adds no samples
    assert profile.top(1)[0].function.endswith("spin_in_a_distinctive_function")


async def test_task_dump_names_every_task_with_its_await_chain() -> None:
    loops = LoopThreads()
    loops.register(asyncio.get_running_loop())
    gate = asyncio.Event()

    async def waiting_in_a_named_coroutine() -> None:
        await gate.wait()

    task = asyncio.create_task(waiting_in_a_named_coroutine(), name="the-waiter")
    await asyncio.sleep(0)
    try:
        dump = await asyncio.to_thread(task_dump, loops)
    finally:
        gate.set()
        await task
    stacks = {dict(labels)["name"]: stack for stack, labels in dump.samples if dict(labels)["kind"] == "task"}
    names = [f.function for f in stacks["the-waiter"]]
    assert names[0] == "Event.wait"
    assert "waiting_in_a_named_coroutine" in names[1]
    text = render_tasks(dump)
    assert "task the-waiter [pending]:" in text
    assert "thread MainThread" in text


def test_sampler_stops_early_when_asked() -> None:
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    sample_cpu(30, stop=stop)
    assert time.monotonic() - started < 5


def busy_main_thread_for_the_signal_sampler(until: float) -> None:
    while time.monotonic() < until:
        total = 0
        for i in range(300):
            total += i


def test_main_thread_is_sampled_where_it_runs_not_where_it_releases_the_gil() -> None:
    main = MainThreadSampler()
    assert main.install()
    stop = threading.Event()
    result: list[StackProfile] = []
    sampler = threading.Thread(target=lambda: result.append(sample_cpu(0.6, main=main, stop=stop)))
    try:
        sampler.start()
        busy_main_thread_for_the_signal_sampler(time.monotonic() + 0.8)
        sampler.join(5)
    finally:
        stop.set()
        main.uninstall()
    [profile] = result
    assert "SIGPROF" in profile.comments[-1]
    top = profile.top(1)[0]
    assert top.function == "busy_main_thread_for_the_signal_sampler"
    assert {dict(labels)["thread"] for _, labels in profile.samples} == {"MainThread"}


async def test_unnamed_tasks_are_labelled_by_their_coroutine() -> None:
    async def serve_one_request() -> None:
        await asyncio.sleep(0)

    unnamed = asyncio.create_task(serve_one_request())
    named = asyncio.create_task(serve_one_request(), name="todostack-watcher")
    try:
        assert label_of(unnamed).startswith("test_unnamed_tasks_are_labelled_by_their_coroutine.<locals>.serve_one")
        assert label_of(named) == "todostack-watcher"
    finally:
        await asyncio.gather(unnamed, named)
