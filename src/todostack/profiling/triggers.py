"""When a measured value should produce a report: autopprof's rule, plus "N checks in a row".

A trigger fires on the first check over its threshold (or the N-th in a row, if asked), then
stays quiet for ``suppress`` checks whatever the value does, and fires again if the value is
still over the threshold after that. Counting the quiet period on every check (not only on those
over the threshold, as autopprof does) means a value that flaps around its threshold cannot
produce a report every other check.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Trigger"]


@dataclass(slots=True)
class Trigger:
    metric: str
    threshold: float
    suppress: int = 12
    in_a_row: int = 1
    over: int = 0  # consecutive checks over the threshold
    quiet: int = 0  # checks left before it may fire again

    def update(self, value: float | None) -> bool:
        """One check's value (``None``: nothing measured this time); ``True`` means report now."""
        quiet = self.quiet
        if quiet > 0:
            self.quiet -= 1
        if value is None or value < self.threshold:
            self.over = 0
            return False
        self.over += 1
        if self.over < self.in_a_row or quiet > 0:
            return False
        self.quiet = self.suppress
        return True
