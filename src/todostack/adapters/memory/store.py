"""A whole database in dictionaries, with transactions that really roll back: a write works on a
copy of the tables (``tables.py``) and its commit publishes the copy."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

from todostack.adapters.memory.auth_tables import MemoryAttempts, MemorySessions
from todostack.adapters.memory.repositories import (
    MemoryChanges,
    MemoryIdempotency,
    MemoryLists,
    MemoryTodos,
    MemoryUsers,
)
from todostack.adapters.memory.tables import Tables

__all__ = ["InMemoryDatabase", "InMemoryUnitOfWork"]


class InMemoryDatabase:
    """Holds the committed state; one writer at a time, like SQLite."""

    def __init__(self) -> None:
        self.tables = Tables()
        self.write_lock = asyncio.Lock()

    def __call__(self, *, write: bool = False, autocommit: bool = False) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self, write=write)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


class InMemoryUnitOfWork:
    """Works on a private copy of the tables; ``commit`` publishes it."""

    users: MemoryUsers
    lists: MemoryLists
    todos: MemoryTodos
    idempotency: MemoryIdempotency
    sessions: MemorySessions
    attempts: MemoryAttempts
    changes: MemoryChanges

    def __init__(self, db: InMemoryDatabase, *, write: bool) -> None:
        self._db = db
        self._write = write
        self._tables = db.tables.copy() if write else db.tables

    async def __aenter__(self) -> Self:
        if self._write:
            await self._db.write_lock.acquire()
            # Copy after taking the lock, so this transaction sees every earlier commit.
            self._tables = self._db.tables.copy()
        self.users = MemoryUsers(self._tables)
        self.lists = MemoryLists(self._tables)
        self.todos = MemoryTodos(self._tables)
        self.idempotency = MemoryIdempotency(self._tables)
        self.sessions = MemorySessions(self._tables.sessions)
        self.attempts = MemoryAttempts(self._tables.attempts)
        self.changes = MemoryChanges(self._tables)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._write:
            self._db.write_lock.release()

    async def commit(self) -> None:
        if not self._write:
            raise RuntimeError("commit on a read-only unit of work")
        self._db.tables = self._tables
