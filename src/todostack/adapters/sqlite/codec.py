"""How domain values are stored in SQLite columns."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from todostack.domain import Priority, Todo, TodoList

__all__ = ["dt_in", "dt_out", "list_from_row", "todo_from_row", "todo_values"]


def dt_in(value: datetime) -> str:
    """Fixed-width UTC text: text order is time order."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def dt_out(value: str) -> datetime:
    return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)


def todo_from_row(r: sqlite3.Row) -> Todo:
    return Todo(
        id=r[0],
        owner_id=r[1],
        list_id=r[2],
        title=r[3],
        notes=r[4],
        completed=bool(r[5]),
        completed_at=None if r[6] is None else dt_out(r[6]),
        due=None if r[7] is None else dt_out(r[7]),
        priority=Priority.from_rank(r[8]),
        tags=tuple(json.loads(r[9])),
        order=r[10],
        created_at=dt_out(r[11]),
        updated_at=dt_out(r[12]),
        version=r[13],
    )


def todo_values(t: Todo) -> tuple[object, ...]:
    return (
        t.id,
        t.owner_id,
        t.list_id,
        t.title,
        t.notes,
        int(t.completed),
        None if t.completed_at is None else dt_in(t.completed_at),
        None if t.due is None else dt_in(t.due),
        t.priority.rank,
        json.dumps(list(t.tags), ensure_ascii=False),
        t.order,
        dt_in(t.created_at),
        dt_in(t.updated_at),
        t.version,
    )


def list_from_row(r: sqlite3.Row) -> TodoList:
    return TodoList(r[0], r[1], r[2], dt_out(r[3]), dt_out(r[4]), r[5])
