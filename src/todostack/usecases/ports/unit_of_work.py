"""The unit of work: repositories sharing one transaction, committed explicitly."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from todostack.usecases.ports.repositories import (
    ChangeRepository,
    IdempotencyRepository,
    ListRepository,
    TodoRepository,
    UserRepository,
)
from todostack.usecases.ports.sign_in import AttemptStore, SessionRepository

__all__ = ["UnitOfWork", "UnitOfWorkFactory"]


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
