"""Repositories: where todos, lists, users, the change feed and idempotency keys are kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from todostack.domain import Change, Todo, TodoList, User
from todostack.usecases.queries import TodoQuery

__all__ = [
    "ChangeRepository",
    "IdempotencyRepository",
    "ListPosition",
    "ListRepository",
    "Snapshot",
    "StoredClaim",
    "TodoRepository",
    "UserRepository",
]

ListPosition = tuple[datetime, str]  # a list's place in its owner's lists: (created_at, id)
Snapshot = Todo | TodoList | User


class UserRepository(Protocol):
    async def add(self, user: User) -> None:
        """Store a new user; raise ``Conflict`` when the email is taken."""

    async def get(self, user_id: str) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None: ...

    async def set_password_hash(self, user_id: str, password_hash: str) -> None: ...


class ListRepository(Protocol):
    async def add(self, todo_list: TodoList) -> None: ...

    async def get(self, owner_id: str, list_id: str, *, for_update: bool = False) -> TodoList | None: ...

    async def oldest(self, owner_id: str) -> TodoList | None: ...

    async def list_for_owner(self, owner_id: str) -> list[TodoList]: ...

    async def page_for_owner(self, owner_id: str, after: ListPosition | None, limit: int) -> list[TodoList]:
        """At most ``limit`` of the owner's lists, oldest first (``created_at``, then ``id``),
        starting after ``after`` (the position of the previous page's last list)."""

    async def count_for_owner(self, owner_id: str, up_to: int) -> int:
        """How many lists the owner holds, counted no further than ``up_to``."""

    async def update(self, todo_list: TodoList) -> None: ...

    async def delete(self, owner_id: str, list_id: str) -> None:
        """Delete the list and every todo in it."""


class TodoRepository(Protocol):
    async def add(self, todo: Todo) -> None: ...

    async def place(
        self, todo: Todo, *, list_id: str | None, order: int | None, below: int | None = None
    ) -> Todo | None:
        """Insert ``todo`` in one statement, choosing its list and order as it goes.

        The list is the owner's ``list_id``, or the owner's oldest list when that is None; the
        order is ``order``, or one past the list's highest (0 in an empty list) when that is None.
        ``todo.list_id`` and ``todo.order`` are ignored. With ``below``, the todo is written only
        while the owner holds fewer todos than that (the count of ``count_for_owner``, read by the
        same statement). Returns the todo as stored, or None when there is no such list or the
        owner already holds ``below`` todos (nothing is written then).
        """

    async def get(self, owner_id: str, todo_id: str, *, for_update: bool = False) -> Todo | None: ...

    async def update(self, todo: Todo) -> None: ...

    async def update_if(self, todo: Todo, *, version: int) -> bool:
        """Store ``todo`` in one statement if the stored todo is still at ``version``, and say
        whether it was (False when another write changed or deleted it meanwhile: nothing is
        written then). Raises NotFound when ``todo.list_id`` no longer exists."""

    async def delete(self, owner_id: str, todo_id: str) -> None: ...

    async def search(self, query: TodoQuery) -> list[Todo]:
        """Return at most ``query.limit + 1`` todos in the query's order, after its cursor."""

    async def count_in_list(self, owner_id: str, list_id: str) -> int: ...

    async def count_for_owner(self, owner_id: str, up_to: int) -> int:
        """How many todos the owner holds in all lists, at most ``up_to``: in constant time, from a
        count the store keeps in the same transaction as every insert and delete of a todo."""

    async def max_order(self, owner_id: str, list_id: str) -> int | None: ...

    async def complete_all(self, owner_id: str, list_id: str, now: datetime) -> int:
        """Complete every open todo of the list, bumping versions; return how many changed."""

    async def clear_completed(self, owner_id: str, list_id: str) -> int:
        """Delete the completed todos of the list; return how many went."""


class ChangeRepository(Protocol):
    """The outbox: every write to a todo or a list records a change in the same transaction.

    Ids grow in the order changes become visible to readers, so a reader that has seen id N
    never later finds a change below N that it missed.
    """

    async def since(self, owner_id: str, after: int, limit: int) -> list[Change]:
        """The owner's changes with an id above ``after``, oldest first, at most ``limit``."""

    async def recent(self, after: int, limit: int) -> list[Change]:
        """Every owner's changes with an id above ``after``, oldest first, at most ``limit``."""

    async def latest(self) -> int:
        """The highest id recorded so far (0 before the first change)."""

    async def horizon(self) -> int:
        """Changes with ids up to this one were pruned: a reader still behind it must resync."""

    async def prune(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` of the oldest changes recorded before ``before`` (raising the
        horizon past them); return how many went."""


@dataclass(frozen=True, slots=True)
class StoredClaim:
    """What an earlier request with the same idempotency key left behind."""

    fingerprint: str
    snapshot: Snapshot | None


class IdempotencyRepository(Protocol):
    async def claim(self, scope: str, key: str, fingerprint: str, now: datetime) -> StoredClaim | None:
        """Claim ``key`` for this request, or return the earlier claim.

        Must be atomic against concurrent claims of the same key: the loser waits for the
        winner's transaction and then sees its record.
        """

    async def complete(self, scope: str, key: str, snapshot: Snapshot) -> None: ...
