"""A whole database in dictionaries: the tables a unit of work copies, and the outbox its writes
record changes in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from todostack.adapters.memory.auth_tables import StoredAttempts
from todostack.domain import Change, ChangeKind, Entity, Todo, TodoList, User
from todostack.usecases.ports import Session, Snapshot

__all__ = ["Tables"]


@dataclass
class Tables:
    users: dict[str, User] = field(default_factory=dict)
    lists: dict[str, TodoList] = field(default_factory=dict)
    todos: dict[str, Todo] = field(default_factory=dict)
    keys: dict[tuple[str, str], tuple[str, Snapshot | None, datetime]] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    attempts: dict[str, StoredAttempts] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)  # the outbox, oldest first
    last_change: int = 0
    horizon: int = 0
    todo_counts: dict[str, int] = field(default_factory=dict)  # owner id: todos held

    def copy(self) -> Tables:
        return Tables(
            dict(self.users),
            dict(self.lists),
            dict(self.todos),
            dict(self.keys),
            dict(self.sessions),
            dict(self.attempts),
            list(self.changes),
            self.last_change,
            self.horizon,
            dict(self.todo_counts),
        )

    def count_todos(self, owner_id: str, delta: int) -> None:
        """Keep the owner's todo count, as the SQL stores' triggers do."""
        self.todo_counts[owner_id] = self.todo_counts.get(owner_id, 0) + delta

    def record(self, entity: Entity, item: Todo | TodoList, kind: ChangeKind) -> None:
        """The outbox row of a write, in the same (copied) tables as the write itself."""
        self.last_change += 1
        self.changes.append(
            Change(self.last_change, entity, item.id, item.owner_id, item.version, kind, datetime.now(UTC))
        )
