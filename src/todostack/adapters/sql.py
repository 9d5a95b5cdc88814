"""What the two SQL adapters share: the tables' column lists and the sort expressions."""

from __future__ import annotations

from todostack.usecases.queries import SortField

__all__ = ["LIST_COLUMNS", "TODO_COLUMNS", "sort_expressions"]

TODO_COLUMNS = (
    "id, owner_id, list_id, title, notes, completed, completed_at, due, priority, tags, position,"
    " created_at, updated_at, version"
)
LIST_COLUMNS = "id, owner_id, name, created_at, updated_at, version"


def sort_expressions(due_or_last: str) -> dict[SortField, str]:
    """The ORDER BY expression per sort field; ``due_or_last`` puts todos without a due date last
    (each dialect has its own value that sorts after every date)."""
    return {
        SortField.ORDER: "position",
        SortField.CREATED: "created_at",
        SortField.PRIORITY: "priority",
        SortField.DUE: due_or_last,
    }
