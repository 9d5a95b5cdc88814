"""Optimistic concurrency: every todo and list carries a version, one more at each change."""

from __future__ import annotations

from collections.abc import Collection

from todostack.domain.errors import PreconditionFailed

__all__ = ["check_version"]


def check_version(current: int, expected: Collection[int] | None) -> None:
    """Refuse a change made against another version than ``current`` (If-Match); ``None``: any."""
    if expected is not None and current not in expected:
        raise PreconditionFailed("the resource was changed since you read it", current)
