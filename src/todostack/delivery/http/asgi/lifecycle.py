"""One worker's serving state: the requests in flight, the concurrency limit, and the drain.

Graceful shutdown, as Kubernetes expects it from a pod that receives SIGTERM (or SIGINT):

1. ``/readyz`` answers 503 at once, so the load balancer stops sending new work;
2. after ``pre_stop`` seconds the listener stops accepting (the ASGI server's own shutdown);
3. requests in flight get ``grace`` seconds to finish; the rest are cancelled with cause
   ``shutdown`` and answer 503;
4. the lifespan closes the pools and the worker exits 0.

Long-lived streams (the change feed's Server-Sent Events) are counted apart, against their own
limit: they have no deadline and would otherwise fill the in-flight limit of ordinary requests.
When the listener stops accepting (step 2) they are told to end, each with a retry hint, so
that their clients reconnect to a worker that stays; any still open when the grace period ends
are cancelled like requests.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from todostack.context import Cause, RequestContext

__all__ = ["Lifecycle", "ShutdownPolicy", "capture_server_stop"]

log = logging.getLogger("todostack.lifecycle")
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Captured:
    server_stop: Callable[[], object] | None = None  # granian's worker shutdown, once captured


_captured = _Captured()


def capture_server_stop() -> None:
    """Keep granian's worker shutdown as granian makes it: call in the worker before the server
    sets its signal handlers (the app factory runs then).

    granian's worker puts its shutdown (a ``WorkerSignal``) behind an event-loop signal handler.
    asyncio's loop shows its handlers in ``loop._signal_handlers``; uvloop's keeps them in C, out
    of reach. Taking the ``WorkerSignal`` where granian creates it works with either loop.
    """
    try:
        from granian import _signals
    except ImportError:  # pragma: no cover - granian is a dependency
        return
    original = _signals.set_loop_signals
    if getattr(original, "todostack_capture", False):
        return

    def capturing(loop: Any) -> Any:
        event = original(loop)  # type: ignore[no-untyped-call]
        _captured.server_stop = event.set
        return event

    capturing.todostack_capture = True  # type: ignore[attr-defined]
    _signals.set_loop_signals = capturing


@dataclass(frozen=True, slots=True)
class ShutdownPolicy:
    pre_stop_seconds: float
    grace_seconds: float


class Lifecycle:
    """Counts and tracks the requests of this worker; knows whether it is draining."""

    def __init__(self, *, max_inflight: int, policy: ShutdownPolicy, max_streams: int = 1000) -> None:
        self.max_inflight = max_inflight
        self.max_streams = max_streams
        self.policy = policy
        self.draining = False
        self.active: set[RequestContext] = set()
        self.streams: set[RequestContext] = set()
        # Told to end every open stream cleanly (set by whoever serves the streams).
        self.close_streams: Callable[[], None] | None = None
        self._server_stop: Callable[[], object] | None = None
        self._grace_ends: float | None = None
        self._drain_began: float | None = None  # loop time of the signal, for the stop's timings
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def inflight(self) -> int:
        return len(self.active)

    def is_draining(self) -> bool:
        return self.draining

    def full(self) -> bool:
        return len(self.active) >= self.max_inflight

    def enter(self, ctx: RequestContext) -> None:
        self.active.add(ctx)
        self._idle.clear()

    def leave(self, ctx: RequestContext) -> None:
        self.active.discard(ctx)
        if not self.active:
            self._idle.set()

    def streams_full(self) -> bool:
        return len(self.streams) >= self.max_streams

    def end_streams(self) -> None:
        if self.close_streams is not None and self.streams:
            log.info("ending %d open stream(s) with a retry hint", len(self.streams))
        if self.close_streams is not None:
            self.close_streams()

    def install_signal_handlers(self) -> None:
        """Take over SIGTERM/SIGINT in this worker, keeping the server's own shutdown for step 2.

        granian's is the one ``capture_server_stop`` kept. Failing that, an event-loop signal
        handler that asyncio's loop shows in ``loop._signal_handlers`` (no public getter). uvicorn
        sets a plain ``signal.signal`` handler instead, called here the same way. Without any
        (tests) step 2 is skipped and the server is told nothing.
        """
        loop = asyncio.get_running_loop()
        handlers: dict[int, asyncio.Handle] = getattr(loop, "_signal_handlers", {})
        previous = handlers.get(signal.SIGTERM)
        if _captured.server_stop is not None:
            self._server_stop = _captured.server_stop
        elif previous is not None:
            callback: Callable[..., object] = previous._callback  # type: ignore[attr-defined]
            args: Sequence[Any] = previous._args
            self._server_stop = lambda: callback(*args)
        else:
            plain = signal.getsignal(signal.SIGTERM)
            if callable(plain):
                self._server_stop = lambda: plain(signal.SIGTERM, None)
        for sig in _SIGNALS:
            loop.add_signal_handler(sig, self.begin_drain, sig.name)

    def begin_drain(self, reason: str = "shutdown", *, pre_stop_seconds: float | None = None) -> None:
        """Step 1 now, steps 2 and 3 on timers. A second signal changes nothing.

        ``pre_stop_seconds=0`` skips the wait for load balancers: for a worker that must stop
        taking work at once (its memory guard), while its siblings and successor serve.
        """
        if self.draining:
            return
        self.draining = True
        delay = self.policy.pre_stop_seconds if pre_stop_seconds is None else pre_stop_seconds
        loop = asyncio.get_running_loop()
        self._drain_began = loop.time()
        log.info(
            "%s: draining (readiness 503); stop accepting in %.1f s, cancel what is left %.1f s later",
            reason,
            delay,
            self.policy.grace_seconds,
        )
        loop.call_later(delay, self._stop_accepting)

    def _stop_accepting(self) -> None:
        log.info("no longer accepting connections; %d request(s) in flight", self.inflight)
        loop = asyncio.get_running_loop()
        self._grace_ends = loop.time() + self.policy.grace_seconds
        self.end_streams()
        if self._server_stop is not None:
            self._server_stop()
        loop.call_later(self.policy.grace_seconds, self.cancel_all, Cause.SHUTDOWN)

    async def settle(self) -> None:
        """Before the pools close: requests in flight finish within the grace period, the rest
        are cancelled (cause ``shutdown``) and given a moment to answer.

        The server may start its lifespan shutdown while requests are still running; closing
        the database under them would turn them into 500s.
        """
        loop = asyncio.get_running_loop()
        grace_ends = self._grace_ends if self._grace_ends is not None else loop.time() + self.policy.grace_seconds
        self.end_streams()
        if not await self._wait_idle(grace_ends - loop.time()):
            self.cancel_all(Cause.SHUTDOWN)
            await self._wait_idle(5.0)
        # Streams were told to end; one still open (stuck writing to its client) is cut off.
        for _ in range(50):
            if not self.streams:
                break
            await asyncio.sleep(0.02)
        for ctx in list(self.streams):
            ctx.cancel(Cause.SHUTDOWN)
        self.log_stop_step("requests settled")

    def log_stop_step(self, step: str) -> None:
        """Say how long after the signal a step of the stop ended: where a slow stop spends its time."""
        if self._drain_began is not None:
            log.info("%s %.2f s after the drain began", step, asyncio.get_running_loop().time() - self._drain_began)

    async def _wait_idle(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    def cancel_all(self, cause: Cause) -> int:
        """Cancel every request in flight with ``cause``; returns how many."""
        cancelled = [ctx for ctx in list(self.active) if ctx.cancel(cause)]
        if cancelled:
            log.warning("cancelled %d request(s) in flight: %s", len(cancelled), cause)
        return len(cancelled)
