"""A change: one line of the change feed, written with the write it records."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Change", "ChangeKind", "Entity"]


class Entity(enum.StrEnum):
    TODO = "todo"
    LIST = "list"


class ChangeKind(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Change:
    """``id`` grows with every change a database records (the feed's cursor); ``version`` is the
    entity's version after the change (its last version for a deletion)."""

    id: int
    entity: Entity
    entity_id: str
    owner_id: str
    version: int
    kind: ChangeKind
    at: datetime
