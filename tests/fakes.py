"""Fakes for the runtime-determined values and the slow collaborators of use cases."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from todostack.adapters.attempts import DatabaseAttempts
from todostack.adapters.common_passwords import common_passwords
from todostack.adapters.memory import InMemoryDatabase
from todostack.adapters.tokens import HmacTokenCodec
from todostack.usecases import AuthService, ListService, TodoService
from todostack.usecases.signin_throttle import SignInThrottle

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

    def __init__(self) -> None:
        self.verified = 0  # how many passwords were checked (the cost a throttle must avoid)

    async def hash(self, password: str) -> str:
        return f"fake${password}"

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        return password_hash == f"fake${password}"


class FakeMonotonic:
    """``time.monotonic`` that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class World:
    """Use cases wired to the in-memory database and the fakes above."""

    def __init__(self, *, session_check_seconds: float = 0.0) -> None:
        self.db = InMemoryDatabase()
        self.clock = FakeClock()
        self.ids = SequentialIds()
        self.hasher = FakeHasher()
        self.monotonic = FakeMonotonic()
        self.throttle = SignInThrottle(DatabaseAttempts(self.db), self.clock)
        self.auth = AuthService(
            self.db,
            self.hasher,
            HmacTokenCodec("k" * 32, timedelta(hours=1)),
            self.clock,
            self.ids,
            timedelta(hours=1),
            throttle=self.throttle,
            common_passwords=common_passwords(),
            session_check_seconds=session_check_seconds,
            monotonic=self.monotonic,
        )
        self.lists = ListService(self.db, self.clock, self.ids)
        self.todos = TodoService(self.db, self.clock, self.ids)
