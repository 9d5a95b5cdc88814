"""The CPU profile: an in-process sampler over every Python thread, ~50 times a second.

Each tick reads every thread's own CPU clock (``pthread_getcpuclockid``) and its current stack
(``sys._current_frames``). A thread that used CPU since the last tick gets one sample, valued in
both ``samples/count`` and ``cpu/nanoseconds`` (the CPU it really used), labelled with its thread
name and, on an event loop's thread, the asyncio task it was running. A thread that sat idle
(a loop in ``epoll_wait``, a pool thread waiting for work) adds nothing: as in Go's CPU profile,
only running code shows up. The sampler runs in its own thread, so it works while the event loop
is blocked, which is exactly when it is needed.

The main thread (the event loop's) needs more care. A sampler thread only gets the GIL when the
main thread lets go of it, which for a busy server is mostly at socket calls: sampled that way,
an I/O-heavy worker looked as if it spent 40 % of its time in ``transport.write``. So while a
profile is taken, ``MainThreadSampler`` arms ``ITIMER_PROF`` (one signal per 10 ms of the
process's CPU time), and the interpreter runs its handler in the main thread at the next bytecode
boundary: the frame it interrupts is where the time goes. Its CPU value is still the main thread's
own clock, so a signal that another thread's CPU caused adds nothing to the main thread.
"""

from __future__ import annotations

import collections
import selectors
import signal
import sys
import threading
import time
from types import FrameType

from todostack.profiling.frames import LoopThreads, stack_of, thread_names
from todostack.profiling.profile import Labels, StackProfile

__all__ = ["MainThreadSampler", "sample_cpu"]

_HERE = frozenset({__file__})
_SELECT = selectors.EpollSelector.select.__code__ if hasattr(selectors, "EpollSelector") else None


def _cpu_ns(thread_id: int) -> int | None:
    try:
        return time.clock_gettime_ns(time.pthread_getcpuclockid(thread_id))
    except (OSError, OverflowError):  # the thread has just ended
        return None


class MainThreadSampler:
    """Samples the main thread from a SIGPROF handler, while armed (``install`` on the main thread)."""

    def __init__(self) -> None:
        self.installed = False
        self.thread_id = threading.main_thread().ident or 0
        self.samples: collections.deque[tuple[FrameType, int, str | None]] = collections.deque(maxlen=100_000)
        self._loops: LoopThreads | None = None
        self._last = 0
        self._armed = False

    def install(self, loops: LoopThreads | None = None) -> bool:
        """Take SIGPROF (main thread only; a no-op elsewhere or if something else has it)."""
        if threading.current_thread() is not threading.main_thread():
            return False
        if signal.getsignal(signal.SIGPROF) not in (signal.SIG_DFL, signal.SIG_IGN, None):
            return False
        self._loops = loops
        signal.signal(signal.SIGPROF, self._on_signal)
        signal.siginterrupt(signal.SIGPROF, False)  # restart interrupted system calls
        self.installed = True
        return True

    def uninstall(self) -> None:
        if self.installed and threading.current_thread() is threading.main_thread():
            self.disarm()
            signal.signal(signal.SIGPROF, signal.SIG_DFL)
            self.installed = False

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self._armed or frame is None:
            return
        if frame.f_code is _SELECT:
            # The loop was waiting for I/O and our signal woke it: idle, and the CPU of that
            # wake-up is the profiler's own. (Seen in a 0.5-CPU cgroup: with a thread burning
            # the quota, these wake-ups outweighed it and "select" came out on top.)
            self._last = _cpu_ns(self.thread_id) or self._last
            return
        used = _cpu_ns(self.thread_id)
        if used is None:
            return
        delta, self._last = used - self._last, used
        if delta > 0:
            task = self._loops.task_name(self.thread_id) if self._loops is not None else None
            self.samples.append((frame, delta, task))

    def arm(self, period_s: float) -> None:
        self.samples.clear()
        self._last = _cpu_ns(self.thread_id) or 0
        self._armed = True
        signal.setitimer(signal.ITIMER_PROF, period_s, period_s)

    def disarm(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0)
        self._armed = False

    def drain(self, profile: StackProfile) -> None:
        for _ in range(len(self.samples)):
            frame, delta, task = self.samples.popleft()
            labels: Labels = (("thread", threading.main_thread().name),)
            if task is not None:
                labels = (("task", task), *labels)
            profile.add(stack_of(frame, _HERE), (1, delta), labels)


def sample_cpu(
    seconds: float,
    *,
    hz: int = 100,
    loops: LoopThreads | None = None,
    stop: threading.Event | None = None,
    main: MainThreadSampler | None = None,
) -> StackProfile:
    """Sample this process for ``seconds`` (or until ``stop`` is set) and return the profile."""
    period_ns = 1_000_000_000 // hz
    profile = StackProfile(
        (("samples", "count"), ("cpu", "nanoseconds")),
        ("cpu", "nanoseconds"),
        period_ns,
        time_nanos=time.time_ns(),
        default_sample_type="cpu",
    )
    me = threading.get_ident()
    stop = stop or threading.Event()
    last: dict[int, int] = {}
    for ident in sys._current_frames():
        used = _cpu_ns(ident)
        if used is not None:
            last[ident] = used
    started = time.monotonic()
    deadline = started + seconds
    names = thread_names()
    ticks = 0
    signals = main if main is not None and main.installed else None
    skip = {me} if signals is None else {me, signals.thread_id}
    if signals is not None:
        signals.arm(period_ns / 1e9)
    try:
        while not stop.wait(period_ns / 1e9) and time.monotonic() < deadline:
            ticks += 1
            if ticks % 50 == 0:
                names = thread_names()
            if signals is not None:
                signals.drain(profile)
            _tick(profile, skip, last, names, loops)
    finally:
        if signals is not None:
            signals.disarm()
            signals.drain(profile)
    profile.duration_nanos = int((time.monotonic() - started) * 1e9)
    how = "thread CPU clocks" if signals is None else "main thread by SIGPROF, others by thread CPU clocks"
    profile.comments.append(f"todostack cpu profile: {hz} Hz, {ticks} ticks; {how}")
    return profile


def _tick(
    profile: StackProfile, skip: set[int], last: dict[int, int], names: dict[int, str], loops: LoopThreads | None
) -> None:
    for ident, frame in sys._current_frames().items():
        if ident in skip:
            continue
        used = _cpu_ns(ident)
        if used is None:
            continue
        delta = used - last.get(ident, used)
        last[ident] = used
        if delta <= 0:
            continue
        labels: Labels = (("thread", names.get(ident, str(ident))),)
        task = loops.task_name(ident) if loops is not None else None
        if task is not None:
            labels = (("task", task), *labels)
        profile.add(stack_of(frame, _HERE), (1, delta), labels)
