"""Turning live Python frames into ``Frame`` stacks, and naming what each thread is running."""

from __future__ import annotations

import asyncio
import threading
from types import CodeType, FrameType

from todostack.profiling.profile import Frame

__all__ = ["LoopThreads", "stack_of"]

_MAX_DEPTH = 128
_functions: dict[CodeType, tuple[str, str, int]] = {}


def stack_of(
    frame: FrameType | None, skip_files: frozenset[str] = frozenset(), *, depth: int = _MAX_DEPTH
) -> tuple[Frame, ...]:
    """The stack that ends at ``frame``, leaf first, at most ``depth`` frames deep."""
    stack: list[Frame] = []
    while frame is not None and len(stack) < depth:
        code = frame.f_code
        known = _functions.get(code)
        if known is None:
            known = _functions[code] = (code.co_qualname, code.co_filename, code.co_firstlineno)
        if known[1] not in skip_files:
            stack.append(Frame(known[0], known[1], frame.f_lineno or 0, known[2]))
        frame = frame.f_back
    return tuple(stack)


class LoopThreads:
    """Which thread runs which event loop, so a sample can name the asyncio task it caught.

    ``asyncio.current_task(loop)`` is a dictionary lookup that is safe to make from another
    thread; a sample taken between two tasks simply has no task label.
    """

    def __init__(self) -> None:
        self._loops: dict[int, asyncio.AbstractEventLoop] = {}
        self._lock = threading.Lock()

    def register(self, loop: asyncio.AbstractEventLoop, thread_id: int | None = None) -> None:
        with self._lock:
            self._loops[thread_id if thread_id is not None else threading.get_ident()] = loop

    def loop_of(self, thread_id: int) -> asyncio.AbstractEventLoop | None:
        return self._loops.get(thread_id)

    def task_name(self, thread_id: int) -> str | None:
        loop = self._loops.get(thread_id)
        if loop is None:
            return None
        try:
            task = asyncio.current_task(loop)
        except RuntimeError:
            return None
        return None if task is None else label_of(task)


def label_of(task: asyncio.Task[object]) -> str:
    """A task's name if it was given one, else its coroutine's: "Task-51234" as a label would make
    one series per request and group nothing."""
    name = task.get_name()
    if name.startswith("Task-") and name[5:].isdigit():
        code = getattr(task.get_coro(), "cr_code", None)
        if code is not None:
            return f"{code.co_qualname} (unnamed task)"
    return name


def thread_names() -> dict[int, str]:
    return {t.ident: t.name for t in threading.enumerate() if t.ident is not None}
