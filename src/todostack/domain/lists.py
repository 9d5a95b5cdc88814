"""Todo lists: a named container of todos owned by one user."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

from todostack.domain.errors import FieldError
from todostack.domain.text import text_errors
from todostack.domain.versions import check_version

__all__ = ["DEFAULT_LIST_NAME", "NAME_MAX", "TodoList", "list_name_errors", "normalize_list_name"]

NAME_MAX = 200
# The list every account starts with, and where a todo created without a list goes.
DEFAULT_LIST_NAME = "Inbox"


@dataclass(frozen=True, slots=True)
class TodoList:
    id: str
    owner_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    version: int = 1

    def check_version(self, expected: Collection[int] | None) -> None:
        """Refuse a change made against another version than this one (If-Match)."""
        check_version(self.version, expected)

    def renamed(self, name: str, now: datetime) -> TodoList | None:
        """This list named ``name``, stamped ``now`` and one version on; None when that is its name."""
        if name == self.name:
            return None
        return replace(self, name=name, updated_at=now, version=self.version + 1)


def normalize_list_name(raw: str) -> str:
    return raw.strip()


def list_name_errors(name: str) -> list[FieldError]:
    """What is wrong with a (normalized) list name; empty when nothing is."""
    errors: list[FieldError] = []
    if not 1 <= len(name) <= NAME_MAX:
        errors.append(FieldError("name", f"must be 1 to {NAME_MAX} characters after trimming"))
    return errors + text_errors("name", name)
