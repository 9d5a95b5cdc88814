"""Fakes for the runtime-determined values and the slow collaborators of use cases."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from todostack.adapters.memory import InMemoryDatabase
from todostack.adapters.tokens import HmacTokenCodec
from todostack.usecases import AuthService, ListService, TodoService

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class SequentialIds:
    """UUIDs 00000000-0000-4000-8000-000000000001, …2, … in order (so id order is creation order)."""

    def __init__(self) -> None:
        self._n = itertools.count(1)

    def __call__(self) -> str:
        return str(uuid.UUID(int=(0x4000 << 64 | 0x8000 << 48) + next(self._n)))


class FakeHasher:
    """Not a hash at all; use cases only need hash/verify to agree."""

    async def hash(self, password: str) -> str:
        return f"fake${password}"

    async def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == f"fake${password}"


class World:
    """Use cases wired to the in-memory database and the fakes above."""

    def __init__(self) -> None:
        self.db = InMemoryDatabase()
        self.clock = FakeClock()
        self.ids = SequentialIds()
        self.auth = AuthService(
            self.db, FakeHasher(), HmacTokenCodec("k" * 32), self.clock, self.ids, timedelta(hours=1)
        )
        self.lists = ListService(self.db, self.clock, self.ids)
        self.todos = TodoService(self.db, self.clock, self.ids)
