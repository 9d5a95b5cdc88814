"""Sorting and keyset filtering of todos in Python, shared by the in-memory adapter."""

from __future__ import annotations

from datetime import datetime

from todostack.domain import Todo
from todostack.usecases.queries import SortKey, TodoQuery, sort_key

__all__ = ["matches", "ordered_page"]


def _rank(key: SortKey) -> tuple[int, int | datetime]:
    # None (no due date) sorts after every date, as in the SQL adapters.
    return (1, 0) if key is None else (0, key)


def matches(todo: Todo, query: TodoQuery) -> bool:
    f = query.filter
    if todo.owner_id != query.owner_id:
        return False
    if f.list_id is not None and todo.list_id != f.list_id:
        return False
    if f.completed is not None and todo.completed != f.completed:
        return False
    if f.due_before is not None and (todo.due is None or not todo.due < f.due_before):
        return False
    if f.due_after is not None and (todo.due is None or not todo.due > f.due_after):
        return False
    if f.tag is not None and f.tag not in todo.tags:
        return False
    return not (f.text is not None and f.text.lower() not in f"{todo.title} {todo.notes}".lower())


def ordered_page(todos: list[Todo], query: TodoQuery) -> list[Todo]:
    def position(todo: Todo) -> tuple[tuple[int, int | datetime], str]:
        return _rank(sort_key(todo, query.sort)), todo.id

    chosen = [t for t in todos if matches(t, query)]
    chosen.sort(key=position, reverse=query.descending)
    if query.after is not None:
        mark = (_rank(query.after.key), query.after.id)
        if query.descending:
            chosen = [t for t in chosen if position(t) < mark]
        else:
            chosen = [t for t in chosen if position(t) > mark]
    return chosen[: query.limit + 1]
