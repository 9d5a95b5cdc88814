"""One report: why it was taken, and the profiles taken for it."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

from todostack.profiling.flamegraph import render_flamegraph
from todostack.profiling.pprof import encode
from todostack.profiling.profile import StackProfile, TopRow
from todostack.profiling.tasks import render_tasks

__all__ = ["Breach", "ProfileFile", "Report"]

SERVICE = "todostack"


@dataclass(frozen=True, slots=True)
class Breach:
    metric: str  # cpu, memory, lag, throttling
    value: float
    threshold: float
    scope: str  # "cgroup" or "process": what the value was measured against

    def describe(self) -> str:
        if self.metric == "lag":
            return f"event-loop lag {self.value:.3f} s over {self.threshold:g} s"
        if self.metric == "throttling":
            return f"CPU throttled in {self.value:.0%} of the quota's periods, over {self.threshold:.0%}"
        against = "the cgroup's limit" if self.scope == "cgroup" else "the machine (no cgroup limit)"
        return f"{self.metric} at {self.value:.1%} of {against}, over {self.threshold:.1%}"


@dataclass(frozen=True, slots=True)
class ProfileFile:
    name: str
    content: bytes


@dataclass(slots=True)
class Report:
    breach: Breach
    cpu: StackProfile | None
    heap: StackProfile | None
    tasks: StackProfile | None
    pid: int
    host: str = field(default_factory=socket.gethostname)
    taken_at: float = field(default_factory=time.time)
    notes: list[str] = field(default_factory=list)

    @property
    def stamp(self) -> str:
        t = time.gmtime(self.taken_at)
        return time.strftime("%Y%m%dT%H%M%S", t) + f".{int(self.taken_at * 1000) % 1000:03d}Z"

    def _prefix(self) -> str:
        return f"{SERVICE}.{self.host}.{self.pid}"

    @property
    def summary_name(self) -> str:
        return f"report.{self._prefix()}.{self.stamp}.json"

    def top_frames(self, limit: int = 5) -> list[TopRow]:
        """The profile that matches the breach: CPU for CPU, lag and throttling; heap for memory."""
        primary = self.heap if self.breach.metric == "memory" and self.heap is not None else self.cpu
        return primary.top(limit) if primary is not None else []

    def files(self) -> list[ProfileFile]:
        """The files of this report, named like autopprof's (plus the pid: one file per worker)."""
        p, ts = self._prefix(), self.stamp
        out = []
        if self.cpu is not None:
            out.append(ProfileFile(f"pprof.{p}.samples.cpu.{ts}.pb.gz", encode(self.cpu)))
            svg = render_flamegraph(self.cpu, f"{SERVICE} pid {self.pid} CPU, {self.breach.describe()}")
            out.append(ProfileFile(f"flamegraph.{p}.cpu.{ts}.svg", svg.encode()))
        if self.heap is not None:
            out.append(ProfileFile(f"pprof.{p}.inuse_objects.inuse_space.heap.{ts}.pb.gz", encode(self.heap)))
        if self.tasks is not None:
            out.append(ProfileFile(f"pprof.{p}.tasks.{ts}.pb.gz", encode(self.tasks)))
            out.append(ProfileFile(f"tasks.{p}.{ts}.txt", render_tasks(self.tasks).encode()))
        return out

    def summary(self) -> dict[str, object]:
        return {
            "service": SERVICE,
            "metric": self.breach.metric,
            "value": round(self.breach.value, 4),
            "threshold": self.breach.threshold,
            "scope": self.breach.scope,
            "host": self.host,
            "pid": self.pid,
            "taken_at": self.stamp,
            "top": [{"function": r.function, "file": r.filename, "flat": r.flat} for r in self.top_frames()],
            "notes": self.notes,
        }

    def as_text(self) -> str:
        lines = [f"*{SERVICE}* autoprof on {self.host} (pid {self.pid}): {self.breach.describe()}"]
        b = self.breach
        lines += [f"• metric: {b.metric}, value: {b.value:.3f}, threshold: {b.threshold:g}"]
        top = self.top_frames()
        if top:
            lines.append("• top frames:")
            lines += [f"  {i}. {r.function} ({r.filename})" for i, r in enumerate(top, 1)]
        lines += [f"• {note}" for note in self.notes]
        return "\n".join(lines)
