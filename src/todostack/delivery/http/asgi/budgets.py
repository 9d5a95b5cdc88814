"""How long a request may run: the server's budget per route, and the client's ``Request-Timeout``."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["SAFE_METHODS", "Budgets", "parse_request_timeout"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Budgets:
    """Server-side time budget per request, in seconds."""

    read_seconds: float
    write_seconds: float
    # Start watching for a client disconnect once a request has run this long: a watcher is a
    # task per request, which a busy worker (every request slower than this) cannot afford.
    watch_disconnect_after_seconds: float = 0.5
    # Routes that take as long as they are asked to (a 60 s CPU profile), by path prefix.
    long_prefixes: tuple[tuple[str, float], ...] = (("/debug/pprof/", 90.0),)

    def for_method(self, method: str) -> float:
        return self.read_seconds if method in SAFE_METHODS else self.write_seconds

    def for_request(self, method: str, path: str) -> float:
        for prefix, seconds in self.long_prefixes:
            if path.startswith(prefix):
                return max(seconds, self.for_method(method))
        return self.for_method(method)


def parse_request_timeout(raw: str) -> float:
    """``Request-Timeout`` in seconds: a finite number above zero."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"Request-Timeout must be a positive number of seconds (e.g. 2.5), got {raw[:40]!r}")
    return value
