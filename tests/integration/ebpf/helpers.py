"""Reading bpftrace's printed maps and the worker's own metrics."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

_MAP_LINE = re.compile(r"^@(\w+)(?:\[(.*)\])?: (-?\d+)$")


def maps(text: str) -> dict[str, dict[tuple[str, ...], int]]:
    """Every ``@name[key, ...]: value`` line bpftrace printed (histograms, which print buckets, aside).

    The first printing of a map wins: the scripts print theirs in END, then clear them, and bpftrace
    prints every map again (emptied, a count as 0) as it exits.
    """
    found: dict[str, dict[tuple[str, ...], int]] = {}
    for line in text.splitlines():
        match = _MAP_LINE.match(line.strip())
        if match:
            name, key, value = match.groups()
            keys = tuple(part.strip() for part in key.split(",")) if key else ()
            found.setdefault(name, {}).setdefault(keys, int(value))
    return found


def samples(client: httpx.Client, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The worker's ``name`` samples from /metrics, keyed by their sorted labels."""
    text = client.get("/metrics").raise_for_status().text
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.1)
