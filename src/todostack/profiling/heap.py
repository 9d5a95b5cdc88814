"""The heap profile: where the memory still in use was allocated (tracemalloc), as pprof.

tracemalloc records a traceback for each allocation while it runs, so it only sees memory
allocated after it started. It is started with a short traceback (1 frame by default: the
allocating line, which is what a leak hunt needs first), either for the worker's whole life or
only once memory climbs towards the threshold (see ``HeapTracking``). tracemalloc frames carry
file and line but no function name: the function is found by parsing the file once (``ast``).
"""

from __future__ import annotations

import ast
import functools
import time
import tracemalloc
from dataclasses import dataclass

from todostack.profiling.profile import Frame, StackProfile

__all__ = ["HeapTracking", "function_at", "heap_profile"]


@functools.lru_cache(maxsize=512)
def _functions_in(filename: str) -> tuple[tuple[int, int, str], ...]:
    """(first line, last line, qualified name) of every function in a source file."""
    try:
        with open(filename, "rb") as f:
            tree = ast.parse(f.read(), filename)
    except (OSError, SyntaxError, ValueError):
        return ()
    found: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    found.append((first, child.end_lineno or child.lineno, name))
                visit(child, f"{name}.<locals>." if not isinstance(child, ast.ClassDef) else f"{name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return tuple(found)


def function_at(filename: str, line: int) -> tuple[str, int]:
    """The innermost function around ``line`` (name, first line), or ``<module>``."""
    best: tuple[int, int, str] | None = None
    for first, last, name in _functions_in(filename):
        if first <= line <= last and (best is None or first >= best[0]):
            best = (first, last, name)
    return (best[2], best[0]) if best else ("<module>", 1)


def heap_profile(snapshot: tracemalloc.Snapshot | None = None) -> StackProfile:
    """In-use objects and bytes by allocation site, from ``snapshot`` or a new one."""
    if snapshot is None:
        if not tracemalloc.is_tracing():
            raise RuntimeError("tracemalloc is not tracing")
        snapshot = tracemalloc.take_snapshot()
    snapshot = snapshot.filter_traces((tracemalloc.Filter(False, tracemalloc.__file__),))
    profile = StackProfile(
        (("inuse_objects", "count"), ("inuse_space", "bytes")),
        ("space", "bytes"),
        1,
        time_nanos=time.time_ns(),
        default_sample_type="inuse_space",
    )
    for stat in snapshot.statistics("traceback"):
        frames = []
        for frame in reversed(stat.traceback):  # tracemalloc: oldest first; pprof: leaf first
            name, first = function_at(frame.filename, frame.lineno)
            frames.append(Frame(name, frame.filename, frame.lineno, first))
        profile.add(tuple(frames), (stat.count, stat.size))
    frames_kept = snapshot.traceback_limit
    profile.comments.append(f"todostack heap profile: tracemalloc, {frames_kept} frame(s) per allocation")
    return profile


@dataclass(slots=True)
class HeapTracking:
    """When tracemalloc runs: from start-up (``arm_ratio`` 0) or once memory reaches ``arm_ratio``
    of the memory threshold (``update`` gets memory as a share of that threshold).

    It stops again when memory falls below 90 % of the arming level, so a worker that recovered
    stops paying for it.
    """

    frames: int = 1
    arm_ratio: float = 0.5
    started_here: bool = False

    def start(self) -> None:
        if not tracemalloc.is_tracing():
            tracemalloc.start(self.frames)
            self.started_here = True

    def stop(self) -> None:
        if self.started_here and tracemalloc.is_tracing():
            tracemalloc.stop()
        self.started_here = False

    def update(self, memory_ratio: float | None) -> None:
        if self.arm_ratio <= 0:
            self.start()
        elif memory_ratio is None:
            return
        elif memory_ratio >= self.arm_ratio:
            self.start()
        elif memory_ratio < self.arm_ratio * 0.9:
            self.stop()
