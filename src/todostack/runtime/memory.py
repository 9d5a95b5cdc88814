"""The memory guard (CPython's missing GOMEMLIMIT): stay under this worker's share of the limit.

Each check compares the worker's resident memory with its share. Above it, the guard collects
garbage and hands freed heap back to the kernel (``malloc_trim``). If the worker is still above
its share, it stops itself the graceful way (SIGTERM: no new connections, in-flight requests
finish) and the server process starts a fresh one in its place — before the kernel's OOM killer
would pick a victim on its own. Stopping first and replacing second matters under a tight limit:
starting the new worker first would need room for both.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import gc
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from todostack.ebpf import probes

__all__ = [
    "GuardStep",
    "MemoryGuard",
    "limit_malloc_arenas",
    "release_memory",
    "resident_bytes",
    "scavenge_forever",
    "trim_heap",
]

log = logging.getLogger("todostack.memory")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    """This process's resident set size, from ``/proc/self/statm``."""
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * _PAGE


def _libc_function(name: str) -> Any:
    """A glibc function (a ctypes foreign function), or None on a C library without it (musl)."""
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


@functools.cache
def _malloc_trim() -> Callable[[], None]:
    """glibc's ``malloc_trim``, loaded on first use (nothing is loaded at import)."""
    trim = _libc_function("malloc_trim")
    if trim is None:  # not glibc: nothing to give back this way
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def call() -> None:
        trim(0)

    return call


def trim_heap() -> None:
    """Hand the heap's free pages back to the kernel (glibc's ``malloc_trim``; a no-op elsewhere).

    ``free()`` gives memory back only from the top of the heap; pages freed in the middle stay
    resident until something is allocated there again.
    """
    _malloc_trim()()


async def scavenge_forever(interval: float, trim: Callable[[], None] = trim_heap) -> None:
    """Go's background scavenger, for glibc: every ``interval``, return freed heap to the kernel,
    so a worker's resident memory comes back down after a burst instead of staying at its peak.

    In a thread: ``malloc_trim`` walks every arena (a few ms for a fragmented 90 MB heap), and the
    event loop need not wait for it (ctypes lets go of the GIL).
    """
    while True:
        await asyncio.sleep(interval)
        await asyncio.to_thread(trim)


_M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas (``MALLOC_ARENA_MAX``), for threads created from now on and for
    processes forked from this one; whether it took. 0 leaves glibc's default (8 per core).

    Each thread that allocates (aiosqlite's one per connection, the thread pool) otherwise gets an
    arena of its own, and what it frees stays in that arena: resident, but of no use to the rest.
    """
    if arenas <= 0:
        return False
    mallopt = _libc_function("mallopt")
    return mallopt is not None and bool(mallopt(_M_ARENA_MAX, arenas) == 1)


def release_memory() -> None:
    """Collect every generation, then return free heap pages to the kernel."""
    gc.collect()
    _malloc_trim()()


@dataclass(frozen=True, slots=True)
class GuardStep:
    before: int
    after: int
    still_over: bool


class MemoryGuard:
    def __init__(
        self,
        limit_bytes: int,
        interval_s: float,
        *,
        measure: Callable[[], int] = resident_bytes,
        release: Callable[[], None] = release_memory,
        recycle: Callable[[], None] = lambda: None,
        on_step: Callable[[GuardStep], object] = lambda step: None,
    ) -> None:
        self.limit = limit_bytes
        self._on_step = on_step
        self.interval = interval_s
        self._measure = measure
        self._release = release
        self._recycle = recycle
        self.recycling = False
        self.collections = 0
        self.over_after_collect = 0

    def check(self) -> GuardStep | None:
        """One check; ``None`` when under the limit."""
        before = self._measure()
        if before <= self.limit:
            return None
        self._release()
        self.collections += 1
        after = self._measure()
        step = GuardStep(before, after, after > self.limit)
        probes.memory_guard("over" if step.still_over else "collected", after)
        if step.still_over:
            self.over_after_collect += 1
            log.warning(
                "memory guard: %d MiB after collecting (from %d MiB), over the %d MiB share: "
                "draining this worker (pid %d) for a fresh one",
                after >> 20,
                before >> 20,
                self.limit >> 20,
                os.getpid(),
            )
            if not self.recycling:
                self.recycling = True
                self._recycle()
        else:
            log.info(
                "memory guard: collected %d MiB -> %d MiB, under the %d MiB share",
                before >> 20,
                after >> 20,
                self.limit >> 20,
            )
        self._on_step(step)
        return step

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.check()
