"""Profiles asked for over HTTP: from this worker, another one, or all of them merged."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Literal

from todostack.profiling.peers import PeerError, ask_peer, peer_pids
from todostack.profiling.pprof import decode, encode
from todostack.profiling.profile import StackProfile, merge
from todostack.profiling.profiler import Profiler

__all__ = ["Kind", "OnDemand", "PeerError"]

Kind = Literal["cpu", "heap", "tasks"]


class OnDemand:
    def __init__(self, profiler: Profiler, peers_dir: Path | None) -> None:
        self.profiler = profiler
        self.peers_dir = peers_dir

    def workers(self) -> list[int]:
        return peer_pids(self.peers_dir)

    def _local(self, kind: Kind, seconds: float) -> StackProfile:
        if kind == "cpu":
            return self.profiler.cpu(seconds)
        if kind == "heap":
            return self.profiler.heap(seconds)
        return self.profiler.tasks()

    def _one(self, pid: int, kind: Kind, seconds: float) -> StackProfile:
        if pid == os.getpid() or self.peers_dir is None:
            if pid != os.getpid():
                raise PeerError(f"no worker with pid {pid}")
            # Through the codec, like a sibling's: the same frames and labels either way.
            return decode(encode(self._local(kind, seconds)))
        return decode(ask_peer(self.peers_dir, pid, kind, seconds, timeout=seconds + 30))

    async def take(
        self, kind: Kind, seconds: float, pid: int | Literal["all"] | None
    ) -> tuple[StackProfile, list[int]]:
        """The profile and the pids it covers; ``pid`` None means this worker."""
        if pid is None:
            pid = os.getpid()
        if pid != "all":
            return await asyncio.to_thread(self._one, pid, kind, seconds), [pid]
        pids = self.workers()
        results = await asyncio.gather(
            *(asyncio.to_thread(self._one, p, kind, seconds) for p in pids), return_exceptions=True
        )
        profiles = {p: r for p, r in zip(pids, results, strict=True) if isinstance(r, StackProfile)}
        if not profiles:
            error = next(r for r in results if isinstance(r, BaseException))
            raise error
        merged = merge(profiles)
        for p, r in zip(pids, results, strict=True):
            if isinstance(r, BaseException):
                merged.comments.append(f"pid {p} left out: {r}")
        return merged, sorted(profiles)
