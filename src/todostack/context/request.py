"""``RequestContext``: one request's deadline, cancellation cause and cleanup hooks."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import itertools
import logging
from collections.abc import Callable
from typing import Any

from todostack.context.cancelled import Cancelled, Cause, DeadlineExceeded
from todostack.ebpf import probes

__all__ = ["RequestContext"]

log = logging.getLogger("todostack.context")
Hook = Callable[[], object]


class RequestContext:
    """Deadline, cancellation cause, request-scoped values and cleanup hooks of one request."""

    __slots__ = ("_hooks", "_own_cause", "_task", "deadline", "done", "principal", "request_id")

    def __init__(
        self,
        request_id: str,
        deadline: float | None = None,
        *,
        principal: object | None = None,
    ) -> None:
        self.request_id = request_id
        self.deadline = deadline
        self.principal = principal
        self.done = False
        self._own_cause: Cause | None = None
        self._task: asyncio.Task[Any] | None = None
        self._hooks: dict[int, Hook] | None = None

    # -- deadline --------------------------------------------------------------------------------
    def remaining(self) -> float | None:
        """Seconds left before the deadline (never negative); ``None`` when there is no deadline."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - asyncio.get_running_loop().time())

    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0.0

    def check(self) -> None:
        """Raise if the work should stop: the deadline passed or the context was cancelled."""
        if self.expired():
            self.record(Cause.DEADLINE_EXCEEDED)
            raise DeadlineExceeded("the request ran out of time")
        cause = self.cause
        if cause is not None:
            raise Cancelled(f"the request was cancelled: {cause}", cause)

    # -- cancellation ----------------------------------------------------------------------------
    @property
    def cause(self) -> Cause | None:
        """Why this context was cancelled; ``None`` while it is not."""
        return self._own_cause

    def bind(self, task: asyncio.Task[Any]) -> None:
        """The task that ``cancel`` interrupts (the one serving the request)."""
        self._task = task

    def cancel(self, cause: Cause) -> bool:
        """Record ``cause`` and interrupt the bound task. Only the first call has an effect."""
        if not self.record(cause):
            return False
        if self._task is not None and not self._task.done() and self._task is not _running_task():
            self._task.cancel(msg=cause.value)
        return True

    def record(self, cause: Cause) -> bool:
        """Record ``cause`` without interrupting anyone: for the task that is itself stopping.

        The cleanups run (the context is done with); only the first cause is kept.
        """
        if self._own_cause is not None or self.done:
            return False
        self._own_cause = cause
        probes.cancel(cause.value)
        self._fire_hooks()
        return True

    def finish(self) -> None:
        """The request ended: run the cleanups that are still registered."""
        if not self.done:
            self._fire_hooks()
            self.done = True

    # -- cleanup hooks ---------------------------------------------------------------------------
    def after(self, fn: Hook) -> Callable[[], bool]:
        """Run ``fn`` once, in its own task, when the request ends or is cancelled.

        Returns ``stop``: calling it unregisters ``fn`` and answers whether that prevented the
        call (``False`` if ``fn`` already ran or is running). ``fn`` may be sync or async; what it
        raises is logged, never raised into the request.
        """
        if self.done or self._own_cause is not None:
            _spawn_hook(fn, self.request_id)
            return _already_ran
        if self._hooks is None:
            self._hooks = {}
        key = next(_hook_keys)
        self._hooks[key] = fn
        hooks = self._hooks

        def stop() -> bool:
            return hooks.pop(key, None) is not None

        return stop

    def _fire_hooks(self) -> None:
        if not self._hooks:
            return
        hooks = list(self._hooks.values())
        self._hooks.clear()  # every stop() handed out now answers False
        self._hooks = None
        for fn in hooks:
            _spawn_hook(fn, self.request_id)


_hook_keys = itertools.count()


def _running_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _already_ran() -> bool:
    return False


_hook_tasks: set[asyncio.Task[None]] = set()


def _spawn_hook(fn: Hook, request_id: str) -> None:
    async def run() -> None:
        try:
            result = fn()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("cleanup hook %r of request %s failed", fn, request_id)

    # Hooks run outside the request's context: the request may be gone by the time they run.
    task = asyncio.get_running_loop().create_task(run(), context=contextvars.Context())
    _hook_tasks.add(task)
    task.add_done_callback(_hook_tasks.discard)
