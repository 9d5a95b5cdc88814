"""Per-account quotas: how many lists and todos one account may hold (OWASP API4)."""

from __future__ import annotations

from dataclasses import dataclass

from todostack.domain import QuotaExceeded
from todostack.usecases.ports import UnitOfWork

__all__ = ["Quotas", "check_lists", "check_todos"]


@dataclass(frozen=True, slots=True)
class Quotas:
    """``None``: no limit (tests, tools). The service's defaults are its settings'."""

    lists: int | None = None
    todos: int | None = None


async def check_lists(uow: UnitOfWork, quotas: Quotas, owner_id: str) -> None:
    """Raise ``QuotaExceeded`` when the owner already holds ``quotas.lists`` lists.

    Counted in the creating unit of work, without a lock: creates racing at the edge of the
    quota may pass it by at most the number racing (bounded by the requests in flight)."""
    if quotas.lists is not None and await uow.lists.count_for_owner(owner_id, quotas.lists) >= quotas.lists:
        raise QuotaExceeded("lists", quotas.lists)


async def check_todos(uow: UnitOfWork, quotas: Quotas, owner_id: str) -> None:
    """Raise ``QuotaExceeded`` when the owner already holds ``quotas.todos`` todos (all lists)."""
    if quotas.todos is not None and await uow.todos.count_for_owner(owner_id, quotas.todos) >= quotas.todos:
        raise QuotaExceeded("todos", quotas.todos)
