"""The experiments' judge: what a stall of the service's processes may and may not excuse."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tests.chaos.experiment import Expect, Experiment
from tests.chaos.load import Attempt

BUDGET = 3.0


def _broken(expect: Expect, attempts: list[Attempt], probes: list[tuple[float, int | None, float]]) -> list[str]:
    acknowledged = {a.key: f"id-{a.key}" for a in attempts if a.status == 201}
    load: Any = SimpleNamespace(attempts=attempts, acknowledged=acknowledged)
    sut: Any = SimpleNamespace(starts=1)
    experiment = Experiment("judged", "judged", sut, lambda keys: {}, [], [], expect, probes=probes)
    stored = {k: [v] for k, v in acknowledged.items()}
    api = {"lost": 0, "duplicates": 0}
    return experiment._invariants(load, api, stored, 0.1, True, True, starts_before=1)


def _attempt(key: str, seconds: float, status: int | None = 201) -> Attempt:
    return Attempt(key, 100.0, 100.0 + seconds, status, problem=status != 201)


# Once in CI: the kernel reclaimed memory in the service's cgroup for 5 s before one OOM kill.
STALLED = [_attempt("a", 0.02), _attempt("b", 5.6)]
STALLED_PROBES: list[tuple[float, int | None, float]] = [(1.0, 200, 0.01), (1.2, 200, 5.3), (6.6, 200, 0.3)]


def test_without_an_allowance_a_stall_breaks_both_latency_bounds() -> None:
    broken = _broken(Expect(BUDGET, connection_errors=True), STALLED, STALLED_PROBES)
    assert any("ran past their budget + 1 s" in b for b in broken), broken
    assert any("/readyz did not answer within 1 s" in b for b in broken), broken


def test_a_stall_within_the_allowance_is_excused() -> None:
    assert _broken(Expect(BUDGET, connection_errors=True, stall_seconds=6.0), STALLED, STALLED_PROBES) == []


def test_the_allowance_excuses_latency_only() -> None:
    expect = Expect(BUDGET, connection_errors=True, stall_seconds=6.0)
    slower = [_attempt("a", 0.02), _attempt("b", 10.5)]  # past budget + 1 s + the stall
    assert any("worst 10.5 s" in b for b in _broken(expect, slower, []))
    blamed = [_attempt("a", 0.02), _attempt("b", 5.6, 408)]  # the client blamed for our stall
    assert any("must not see: ['408']" in b for b in _broken(expect, blamed, []))
    hung: list[tuple[float, int | None, float]] = [(1.2, None, 7.6)]  # readiness silent for longer than the stall
    assert any("/readyz did not answer within 7 s" in b for b in _broken(expect, [_attempt("a", 0.02)], hung))
