"""Ports: what the use cases need from the outside world, declared by the use cases.

Adapters (in-memory, SQLite, PostgreSQL, Argon2, HMAC tokens) implement these protocols;
``bootstrap`` hands the implementations in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from todostack.domain import Change, Todo, TodoList, User
from todostack.usecases.queries import TodoQuery

__all__ = [
    "Attempt",
    "AttemptStore",
    "ChangeRepository",
    "Clock",
    "IdGenerator",
    "IdempotencyRepository",
    "ListPosition",
    "ListRepository",
    "PasswordHasher",
    "Session",
    "SessionRepository",
    "Snapshot",
    "StoredClaim",
    "TodoRepository",
    "TokenClaims",
    "TokenCodec",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
]

Clock = Callable[[], datetime]
ListPosition = tuple[datetime, str]  # a list's place in its owner's lists: (created_at, id)
IdGenerator = Callable[[], str]
Snapshot = Todo | TodoList | User


class UserRepository(Protocol):
    async def add(self, user: User) -> None:
        """Store a new user; raise ``Conflict`` when the email is taken."""

    async def get(self, user_id: str) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None: ...

    async def set_password_hash(self, user_id: str, password_hash: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Session:
    """One sign-in: what a token names, so that it can be ended before it expires."""

    id: str
    user_id: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


class SessionRepository(Protocol):
    async def add(self, session: Session) -> None: ...

    async def active_user(self, session_id: str, now: datetime) -> str | None:
        """The user id of the session if it is neither revoked nor expired at ``now``."""

    async def revoke(self, session_id: str, now: datetime) -> None: ...

    async def revoke_all(self, user_id: str, now: datetime) -> int:
        """End every open session of the user; return how many were open."""

    async def prune(self, now: datetime) -> int:
        """Forget sessions expired before ``now``; return how many."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """What an attempt store answered: ``count`` attempts in the key's current window, or,
    when ``locked_until`` is set, a refusal (nothing was counted)."""

    count: int
    locked_until: datetime | None = None


class AttemptStore(Protocol):
    """Counters of sign-in attempts shared by every worker and every pod (database or Redis).

    Each method is atomic on its own: concurrent attempts never lose a count.
    """

    async def attempt(self, key: str, now: datetime, window_seconds: int) -> Attempt:
        """Refuse when ``key`` is locked at ``now``; else count one attempt in its fixed window
        (a window older than ``window_seconds`` starts afresh at 1)."""

    async def lock(self, key: str, until: datetime) -> None:
        """Refuse ``key``'s attempts until ``until`` (a later lock already there stays)."""

    async def refund(self, key: str) -> None:
        """Take back one counted attempt (it succeeded)."""

    async def clear(self, key: str) -> None:
        """Forget ``key``: its count and its lock."""

    async def prune(self, before: datetime) -> int:
        """Forget keys whose window started and lock ended before ``before``; return how many."""


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

    async def place(self, todo: Todo, *, list_id: str | None, order: int | None) -> Todo | None:
        """Insert ``todo`` in one statement, choosing its list and order as it goes.

        The list is the owner's ``list_id``, or the owner's oldest list when that is None; the
        order is ``order``, or one past the list's highest (0 in an empty list) when that is None.
        ``todo.list_id`` and ``todo.order`` are ignored. Returns the todo as stored, or None when
        there is no such list (nothing is written then).
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
        """How many todos the owner holds in all lists, counted no further than ``up_to``."""

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


class UnitOfWork(Protocol):
    """Repositories sharing one transaction; usable after ``__aenter__``."""

    @property
    def users(self) -> UserRepository: ...

    @property
    def lists(self) -> ListRepository: ...

    @property
    def todos(self) -> TodoRepository: ...

    @property
    def idempotency(self) -> IdempotencyRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def attempts(self) -> AttemptStore: ...

    @property
    def changes(self) -> ChangeRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = False, autocommit: bool = False) -> UnitOfWork:
        """A unit of work; ``write=True`` opens a transaction that must be committed.

        ``autocommit=True`` (with ``write``) promises that the work is one statement, atomic on
        its own: an adapter may then run it without a transaction around it (saving PostgreSQL
        two round trips), and ``commit`` still has to be called.
        """


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a token says; times in whole Unix seconds (what the token carries: no datetime is
    built on the per-request path)."""

    user_id: str
    session_id: str
    issued_at: int
    expires_at: int


class TokenCodec(Protocol):
    def issue(self, claims: TokenClaims) -> str: ...

    def verify(self, token: str, now: datetime) -> TokenClaims | None:
        """The claims of a token this service signed that is valid at ``now``, else ``None``.

        The expiry it carries counts only up to its issue time plus the configured lifetime."""

    def digest(self, text: str) -> str:
        """A keyed digest of ``text`` (HMAC with the signing secret): safe to store beside data
        an attacker may read, unlike a plain hash of a guessable value."""
