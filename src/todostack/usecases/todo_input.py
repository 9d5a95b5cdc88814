"""A todo use case's input checked against the domain's rules, every broken rule named at once.

Each rule of ``domain.todos`` answers what is wrong with one field; here they are gathered, in
the order of the fields, into one ``Invalid`` (one 422 answer naming every offending field).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from typing import TypeVar

from todostack.domain import FieldError, Invalid
from todostack.domain.text import text_errors
from todostack.domain.todos import (
    due_errors,
    normalize_due,
    normalize_tags,
    normalize_title,
    notes_errors,
    order_errors,
    tags_errors,
    title_errors,
)
from todostack.usecases.commands import UNSET, Maybe, NewTodo, TodoChanges
from todostack.usecases.queries import LIMIT_MAX, TodoFilter

__all__ = ["as_changes", "set_fields", "valid_changes", "valid_filter", "valid_todo"]

T = TypeVar("T")


def valid_changes(changes: TodoChanges) -> TodoChanges:
    """``changes`` with the title trimmed, the tags trimmed and deduplicated, the due date in UTC.

    Raises ``Invalid`` naming every field that breaks a rule; fields not sent are not checked. A
    whole todo is checked as the changes that make it (``as_changes``).
    """
    title = _normalized(normalize_title, changes.title)
    tags = _normalized(normalize_tags, changes.tags)
    errors = [
        *_errors(title_errors, title),
        *_errors(notes_errors, changes.notes),
        *_errors(tags_errors, tags),
        *_errors(order_errors, changes.order),
        *_errors(due_errors, changes.due),
    ]
    if errors:
        raise Invalid(errors)
    due = changes.due if changes.due is UNSET else normalize_due(changes.due)
    return replace(changes, title=title, tags=tags, due=due)


def _errors(rule: Callable[[T], list[FieldError]], value: Maybe[T] | None) -> list[FieldError]:
    """What ``rule`` finds wrong with ``value``; nothing for a field not sent, or sent as null
    (a due date removed)."""
    return [] if value is UNSET or value is None else rule(value)


def _normalized(normalize: Callable[[T], T], value: Maybe[T]) -> Maybe[T]:
    return value if value is UNSET else normalize(value)


def valid_todo(cmd: NewTodo) -> NewTodo:
    """A whole todo checked by the same rules (``valid_changes``), and normalized the same way."""
    valid_changes(as_changes(cmd))
    return replace(cmd, title=normalize_title(cmd.title), tags=normalize_tags(cmd.tags), due=normalize_due(cmd.due))


def as_changes(cmd: NewTodo) -> TodoChanges:
    """A whole todo as the changes that make an existing one into it (a missing ``list_id`` or
    ``order`` keeps the current one)."""
    return TodoChanges(
        title=cmd.title,
        list_id=UNSET if cmd.list_id is None else cmd.list_id,
        notes=cmd.notes,
        completed=cmd.completed,
        due=cmd.due,
        priority=cmd.priority,
        tags=cmd.tags,
        order=UNSET if cmd.order is None else cmd.order,
    )


def set_fields(changes: TodoChanges) -> dict[str, object]:
    """The fields ``changes`` sets, by name: what ``Todo.revised`` takes."""
    return {f.name: value for f in fields(changes) if (value := getattr(changes, f.name)) is not UNSET}


def valid_filter(todo_filter: TodoFilter, limit: int) -> TodoFilter:
    """``todo_filter`` with its due dates in UTC; ``Invalid`` naming every bad parameter."""
    errors: list[FieldError] = []
    if not 1 <= limit <= LIMIT_MAX:
        errors.append(FieldError("limit", f"must be between 1 and {LIMIT_MAX}"))
    errors += text_errors("q", todo_filter.text or "")
    errors += text_errors("tag", todo_filter.tag or "")
    errors += due_errors(todo_filter.due_before, "due_before")
    errors += due_errors(todo_filter.due_after, "due_after")
    if errors:
        raise Invalid(errors)
    return replace(
        todo_filter, due_before=normalize_due(todo_filter.due_before), due_after=normalize_due(todo_filter.due_after)
    )
