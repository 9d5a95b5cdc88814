"""Sign-in attempt counters in the service's own database: each call is one short write."""

from __future__ import annotations

from datetime import datetime

from todostack.usecases.ports import Attempt, UnitOfWorkFactory

__all__ = ["DatabaseAttempts"]


class DatabaseAttempts:
    """``AttemptStore`` over the unit of work's ``attempts`` (PostgreSQL, SQLite, memory)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def attempt(self, key: str, now: datetime, window_seconds: int) -> Attempt:
        async with self._uow(write=True) as uow:
            seen = await uow.attempts.attempt(key, now, window_seconds)
            await uow.commit()
            return seen

    async def lock(self, key: str, until: datetime) -> None:
        async with self._uow(write=True, autocommit=True) as uow:
            await uow.attempts.lock(key, until)
            await uow.commit()

    async def refund(self, key: str) -> None:
        async with self._uow(write=True, autocommit=True) as uow:
            await uow.attempts.refund(key)
            await uow.commit()

    async def clear(self, key: str) -> None:
        async with self._uow(write=True, autocommit=True) as uow:
            await uow.attempts.clear(key)
            await uow.commit()

    async def prune(self, before: datetime) -> int:
        async with self._uow(write=True, autocommit=True) as uow:
            gone = await uow.attempts.prune(before)
            await uow.commit()
            return gone
