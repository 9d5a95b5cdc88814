"""The task dump (Go's goroutine profile): every asyncio task and every thread, with its stack.

Safe to take from another thread while the event loop is blocked, which is when a dump is most
useful: ``asyncio.all_tasks`` retries if the set changes under it, and a task's stack is read
from its coroutine's frames without running anything on the loop.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time

from todostack.profiling.frames import LoopThreads, stack_of, thread_names
from todostack.profiling.profile import Frame, StackProfile

__all__ = ["render_tasks", "task_dump"]


def _task_stack(task: asyncio.Task[object]) -> tuple[Frame, ...]:
    """A suspended task's stack, leaf first, followed ``await`` by ``await`` down its coroutines.

    (A suspended coroutine's frame has no ``f_back``: the chain is in ``cr_await``.)
    """
    frames: list[Frame] = []
    coro: object = task.get_coro()
    while coro is not None and len(frames) < 128:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        frames.extend(stack_of(frame, depth=1))
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return tuple(reversed(frames))


def task_dump(loops: LoopThreads | None = None) -> StackProfile:
    """One sample per task and per thread, labelled with its kind and name."""
    profile = StackProfile((("tasks", "count"),), ("tasks", "count"), 1, time_nanos=time.time_ns())
    names = thread_names()
    me = threading.get_ident()
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        profile.add(stack_of(frame), (1,), (("kind", "thread"), ("name", names.get(ident, str(ident)))))
        loop = loops.loop_of(ident) if loops is not None else None
        if loop is None:
            continue
        for task in _all_tasks(loop):
            state = "done" if task.done() else "pending"
            profile.add(_task_stack(task), (1,), (("kind", "task"), ("name", task.get_name()), ("state", state)))
    return profile


def _all_tasks(loop: asyncio.AbstractEventLoop) -> list[asyncio.Task[object]]:
    for _ in range(10):
        try:
            return sorted(asyncio.all_tasks(loop), key=lambda t: t.get_name())
        except RuntimeError:  # the set changed while being read: read again
            continue
    return []


def render_tasks(profile: StackProfile) -> str:
    """The dump as text, like Go's ``debug=2`` goroutine dump."""
    blocks = []
    for (stack, labels), values in sorted(profile.samples.items(), key=lambda item: item[0][1]):
        meta = dict(labels)
        head = f"{meta.get('kind', '?')} {meta.get('name', '?')}"
        if "state" in meta:
            head += f" [{meta['state']}]"
        if "pid" in meta:
            head = f"pid {meta['pid']} {head}"
        if values and values[0] > 1:
            head += f" (x{values[0]})"
        lines = [head + ":"]
        lines += [f"  {f.function}\n      {f.filename}:{f.line}" for f in stack]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
