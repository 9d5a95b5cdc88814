"""The in-memory shape of every profile this package takes: stacks with values and labels.

A ``StackProfile`` is what the CPU sampler, the heap snapshot and the task dump produce, what
``pprof`` encodes and decodes, what the flame graph draws and what ``top`` ranks. Stacks are
tuples of ``Frame``, leaf first (the order ``profile.proto`` uses).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["Frame", "Labels", "StackProfile", "TopRow", "merge"]

Labels = tuple[tuple[str, str], ...]  # sorted (key, value) pairs


@dataclass(frozen=True, slots=True)
class Frame:
    function: str
    filename: str
    line: int
    start_line: int = 0


@dataclass(frozen=True, slots=True)
class TopRow:
    function: str
    filename: str
    flat: int  # value where the function is the leaf
    cumulative: int  # value where it is anywhere on the stack


@dataclass(slots=True)
class StackProfile:
    sample_types: tuple[tuple[str, str], ...]  # (type, unit), e.g. ("cpu", "nanoseconds")
    period_type: tuple[str, str]
    period: int
    time_nanos: int = 0
    duration_nanos: int = 0
    default_sample_type: str = ""
    samples: dict[tuple[tuple[Frame, ...], Labels], list[int]] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)

    def add(self, stack: tuple[Frame, ...], values: Iterable[int], labels: Labels = ()) -> None:
        key = (stack, labels)
        current = self.samples.get(key)
        if current is None:
            self.samples[key] = list(values)
        else:
            for i, v in enumerate(values):
                current[i] += v

    def value_index(self, sample_type: str | None = None) -> int:
        wanted = sample_type or self.default_sample_type
        for i, (kind, _) in enumerate(self.sample_types):
            if kind == wanted:
                return i
        return len(self.sample_types) - 1  # pprof's own default: the last type

    def total(self, sample_type: str | None = None) -> int:
        i = self.value_index(sample_type)
        return sum(v[i] for v in self.samples.values())

    def top(self, limit: int = 10, sample_type: str | None = None) -> list[TopRow]:
        """Functions by flat value (where the time or memory was spent), largest first."""
        i = self.value_index(sample_type)
        flat: dict[tuple[str, str], int] = defaultdict(int)
        cumulative: dict[tuple[str, str], int] = defaultdict(int)
        for (stack, _), values in self.samples.items():
            if not stack:
                continue
            flat[(stack[0].function, stack[0].filename)] += values[i]
            for key in {(f.function, f.filename) for f in stack}:
                cumulative[key] += values[i]
        ranked = sorted(flat, key=lambda k: (-flat[k], k))
        return [TopRow(k[0], k[1], flat[k], cumulative[k]) for k in ranked[:limit] if flat[k] > 0]


def merge(profiles: Mapping[int, StackProfile]) -> StackProfile:
    """One profile from several workers' (same sample types); each sample gains a ``pid`` label."""
    first = next(iter(profiles.values()))
    merged = StackProfile(
        first.sample_types,
        first.period_type,
        first.period,
        time_nanos=min(p.time_nanos for p in profiles.values()),
        duration_nanos=max(p.duration_nanos for p in profiles.values()),
        default_sample_type=first.default_sample_type,
    )
    for pid, profile in profiles.items():
        merged.comments.extend(profile.comments)
        for (stack, labels), values in profile.samples.items():
            pid_labels = tuple(sorted((*(kv for kv in labels if kv[0] != "pid"), ("pid", str(pid)))))
            merged.add(stack, values, pid_labels)
    return merged
