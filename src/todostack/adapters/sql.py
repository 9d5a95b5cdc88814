"""What the two SQL adapters share: the tables' column lists, the sort expressions and the shape of
a page's keyset condition and order. Placeholders differ (``$1`` on PostgreSQL, ``?`` on SQLite):
each adapter hands its own in, nothing here picks one."""

from __future__ import annotations

from collections.abc import Sequence

from todostack.usecases.queries import SortField

__all__ = [
    "LIST_COLUMNS",
    "TODO_COLUMNS",
    "USER_COLUMNS",
    "after_cursor",
    "page_order",
    "sort_expressions",
    "todo_assignments",
]

# In the domain's field order (``Todo``), which the row decoders read by position.
_TODO_FIELDS = (
    "id",
    "owner_id",
    "list_id",
    "title",
    "notes",
    "completed",
    "completed_at",
    "due",
    "priority",
    "tags",
    "position",
    "created_at",
    "updated_at",
    "version",
)
TODO_COLUMNS = ", ".join(_TODO_FIELDS)
LIST_COLUMNS = "id, owner_id, name, created_at, updated_at, version"
USER_COLUMNS = "id, email, password_hash, created_at"


def todo_assignments(placeholders: Sequence[str]) -> str:
    """``list_id = …, title = …, … version = …``: every column a todo's update writes (all but
    its id and owner), each given its placeholder in turn."""
    columns = _TODO_FIELDS[2:]
    if len(placeholders) != len(columns):
        raise ValueError(f"{len(columns)} placeholders wanted, got {len(placeholders)}")
    return ", ".join(f"{column} = {placeholder}" for column, placeholder in zip(columns, placeholders, strict=True))


def sort_expressions(due_or_last: str) -> dict[SortField, str]:
    """The ORDER BY expression per sort field; ``due_or_last`` puts todos without a due date last
    (each dialect has its own value that sorts after every date)."""
    return {
        SortField.ORDER: "position",
        SortField.CREATED: "created_at",
        SortField.PRIORITY: "priority",
        SortField.DUE: due_or_last,
    }


def after_cursor(expr: str, descending: bool, key: str, row_id: str) -> str:
    """The keyset condition of a page: rows past the cursor's (sort key, id) in the page's order;
    ``key`` and ``row_id`` are the dialect's expressions for the cursor's two values."""
    return f"({expr}, id) {'<' if descending else '>'} ({key}, {row_id})"


def page_order(expr: str, descending: bool) -> str:
    """The ORDER BY of a page: the sort expression, then the id, both the same way."""
    direction = "DESC" if descending else "ASC"
    return f"{expr} {direction}, id {direction}"
