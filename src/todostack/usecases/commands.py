"""Inputs of the use cases: plain data, already typed, not yet validated."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeAlias, TypeVar

from todostack.domain import Priority

__all__ = [
    "UNSET",
    "Maybe",
    "NewList",
    "NewTodo",
    "TodoChanges",
    "Unset",
    "VersionCheck",
]


class Unset(enum.Enum):
    """Marks a field the caller did not send (as opposed to sending ``null``)."""

    UNSET = "UNSET"


UNSET: Literal[Unset.UNSET] = Unset.UNSET
T = TypeVar("T")
Maybe: TypeAlias = T | Literal[Unset.UNSET]

# ``None``: the caller made no precondition. A set: the versions the caller accepts
# (an empty set can never match, e.g. an If-Match naming some other resource's tag).
VersionCheck = frozenset[int] | None


@dataclass(frozen=True, slots=True)
class NewList:
    name: str


@dataclass(frozen=True, slots=True)
class NewTodo:
    title: str
    list_id: str | None = None
    notes: str = ""
    completed: bool = False
    due: datetime | None = None
    priority: Priority = Priority.NONE
    tags: tuple[str, ...] = field(default_factory=tuple)
    order: int | None = None


@dataclass(frozen=True, slots=True)
class TodoChanges:
    """A partial update; every field left UNSET keeps its current value."""

    title: Maybe[str] = UNSET
    list_id: Maybe[str] = UNSET
    notes: Maybe[str] = UNSET
    completed: Maybe[bool] = UNSET
    due: Maybe[datetime | None] = UNSET
    priority: Maybe[Priority] = UNSET
    tags: Maybe[tuple[str, ...]] = UNSET
    order: Maybe[int] = UNSET
