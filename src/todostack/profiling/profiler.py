"""This worker's profiles, on demand: CPU, heap, task dump. Used by the watcher and /debug/pprof."""

from __future__ import annotations

import asyncio
import threading
import time
import tracemalloc

from todostack.profiling.cpu import MainThreadSampler, sample_cpu
from todostack.profiling.frames import LoopThreads
from todostack.profiling.heap import HeapTracking, heap_profile
from todostack.profiling.profile import StackProfile
from todostack.profiling.tasks import task_dump

__all__ = ["Profiler"]


class Profiler:
    def __init__(self, *, hz: int = 50, heap: HeapTracking | None = None) -> None:
        self.hz = hz
        self.loops = LoopThreads()
        self.main_thread = MainThreadSampler()
        self.heap_tracking = heap or HeapTracking()
        self.stopping = threading.Event()
        # One CPU capture at a time per worker: two samplers would only slow each other down.
        self._cpu_lock = threading.Lock()

    def watch_loop(self, loop: asyncio.AbstractEventLoop, thread_id: int | None = None) -> None:
        """Called on the loop's thread: labels samples with its tasks, and (on the main thread)
        samples it by SIGPROF while a CPU profile is taken."""
        self.loops.register(loop, thread_id)
        if not self.main_thread.installed:
            self.main_thread.install(self.loops)

    def cpu(self, seconds: float) -> StackProfile:
        with self._cpu_lock:
            return sample_cpu(seconds, hz=self.hz, loops=self.loops, stop=self.stopping, main=self.main_thread)

    def heap(self, seconds: float = 0.0) -> StackProfile:
        """In-use memory by allocation site. Without tracemalloc running, trace for ``seconds``
        (what was allocated then and is still alive); with it running, a snapshot now."""
        if tracemalloc.is_tracing():
            return heap_profile()
        tracemalloc.start(self.heap_tracking.frames)
        try:
            self.stopping.wait(max(seconds, 0.0))
            profile = heap_profile()
        finally:
            if not self.heap_tracking.started_here:
                tracemalloc.stop()
        profile.comments.append(f"traced on demand for {seconds:g} s: only allocations made then")
        profile.duration_nanos = int(seconds * 1e9)
        return profile

    def heap_if_tracing(self) -> StackProfile | None:
        return heap_profile() if tracemalloc.is_tracing() else None

    def tasks(self) -> StackProfile:
        profile = task_dump(self.loops)
        profile.time_nanos = time.time_ns()
        return profile
