"""Status conditions the Kubernetes way: one entry per type, `lastTransitionTime` moves only when `status` does.

| type                | True means                                                      |
| ------------------- | --------------------------------------------------------------- |
| `MigrationsApplied` | the migration Job of the spec's image succeeded                 |
| `Available`         | the Deployment has all its replicas ready on the serving image  |
| `Progressing`       | a migration or a rollout is under way                           |
| `Degraded`          | something needs a human: failed migration, rollback, bad spec   |
"""

from __future__ import annotations

from datetime import datetime

from todostack_operator.spec import Condition

TYPES = ("MigrationsApplied", "Available", "Progressing", "Degraded")


def timestamp(now: datetime) -> str:
    """RFC 3339 in UTC, seconds precision, as metav1.Time is written."""
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: list[Condition],
    kind: str,
    status: bool | None,
    reason: str,
    message: str,
    *,
    generation: int,
    now: datetime,
) -> list[Condition]:
    """A new list with `kind` set; its transition time is kept when its status did not change."""
    word = "Unknown" if status is None else ("True" if status else "False")
    previous = next((c for c in conditions if c.type == kind), None)
    since = previous.last_transition_time if previous is not None and previous.status == word else timestamp(now)
    updated = Condition(
        type=kind,
        status=word,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    )
    others = [c for c in conditions if c.type != kind]
    return sorted([*others, updated], key=lambda c: TYPES.index(c.type) if c.type in TYPES else len(TYPES))


def find(conditions: list[Condition], kind: str) -> Condition | None:
    return next((c for c in conditions if c.type == kind), None)
