"""``OwnerSizes``: the owners' todo counts a PostgreSQL search chooses its plan by, read at most
once a TTL per owner and bounded in number."""

from __future__ import annotations

from todostack.adapters.postgres.todos import OwnerSizes


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_count_is_kept_for_its_ttl_then_read_again() -> None:
    clock = Clock()
    sizes = OwnerSizes(ttl=60, clock=clock)
    assert sizes.get("a") is None
    sizes.put("a", 12)
    clock.now += 59.9
    assert sizes.get("a") == 12
    clock.now += 0.1
    assert sizes.get("a") is None  # stale: the caller reads the counter again
    sizes.put("a", 5_000)
    assert sizes.get("a") == 5_000


def test_past_its_capacity_the_count_read_longest_ago_goes() -> None:
    clock = Clock()
    sizes = OwnerSizes(capacity=3, clock=clock)
    for n, owner in enumerate("abc"):
        sizes.put(owner, n)
        clock.now += 1
    sizes.put("a", 7)  # read again: now the newest
    sizes.put("d", 3)
    assert [sizes.get(o) for o in "abcd"] == [7, None, 2, 3]


def test_a_zero_ttl_keeps_nothing() -> None:
    sizes = OwnerSizes(ttl=0)
    sizes.put("a", 1)
    assert sizes.get("a") is None
