"""Todo lists: a named container of todos owned by one user."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

from todostack.domain.errors import FieldError
from todostack.domain.text import check_text
from todostack.domain.todos import check_version

__all__ = ["NAME_MAX", "TodoList", "normalize_list_name"]

NAME_MAX = 200


@dataclass(frozen=True, slots=True)
class TodoList:
    id: str
    owner_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    version: int = 1

    def check_version(self, expected: Collection[int] | None) -> None:
        check_version(self.version, expected)

    def renamed(self, name: str, now: datetime) -> TodoList:
        return replace(self, name=name, updated_at=now, version=self.version + 1)


def normalize_list_name(raw: str, errors: list[FieldError]) -> str:
    name = raw.strip()
    if not 1 <= len(name) <= NAME_MAX:
        errors.append(FieldError("name", f"must be 1 to {NAME_MAX} characters after trimming"))
    check_text("name", name, errors)
    return name
