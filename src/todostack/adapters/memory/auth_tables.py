"""In memory: sessions and sign-in attempt counters, on the unit of work's copy of the tables."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from todostack.usecases.ports import Attempt, Session

__all__ = ["MemoryAttempts", "MemorySessions", "StoredAttempts"]


@dataclass(frozen=True, slots=True)
class StoredAttempts:
    count: int
    window_started_at: datetime
    locked_until: datetime | None = None


class MemorySessions:
    def __init__(self, rows: dict[str, Session]) -> None:
        self._rows = rows

    async def add(self, session: Session) -> None:
        self._rows[session.id] = session

    async def active_user(self, session_id: str, now: datetime) -> str | None:
        s = self._rows.get(session_id)
        return s.user_id if s is not None and s.revoked_at is None and s.expires_at > now else None

    async def revoke(self, session_id: str, now: datetime) -> None:
        s = self._rows.get(session_id)
        if s is not None and s.revoked_at is None:
            self._rows[session_id] = replace(s, revoked_at=now)

    async def revoke_all(self, user_id: str, now: datetime) -> int:
        ended = [s for s in self._rows.values() if s.user_id == user_id and s.revoked_at is None and s.expires_at > now]
        for s in ended:
            self._rows[s.id] = replace(s, revoked_at=now)
        return len(ended)

    async def prune(self, now: datetime) -> int:
        gone = [s.id for s in self._rows.values() if s.expires_at <= now]
        for session_id in gone:
            del self._rows[session_id]
        return len(gone)


class MemoryAttempts:
    def __init__(self, rows: dict[str, StoredAttempts]) -> None:
        self._rows = rows

    async def attempt(self, key: str, now: datetime, window_seconds: int) -> Attempt:
        row = self._rows.get(key)
        if row is not None and row.locked_until is not None and row.locked_until > now:
            return Attempt(0, row.locked_until)
        if row is None or row.window_started_at <= now - timedelta(seconds=window_seconds):
            row = StoredAttempts(1, now, None if row is None else row.locked_until)
        else:
            row = replace(row, count=row.count + 1)
        self._rows[key] = row
        return Attempt(row.count)

    async def lock(self, key: str, until: datetime) -> None:
        row = self._rows.get(key)
        if row is not None and (row.locked_until is None or row.locked_until < until):
            self._rows[key] = replace(row, locked_until=until)

    async def refund(self, key: str) -> None:
        row = self._rows.get(key)
        if row is not None:
            self._rows[key] = replace(row, count=max(row.count - 1, 0))

    async def clear(self, key: str) -> None:
        self._rows.pop(key, None)

    async def prune(self, before: datetime) -> int:
        gone = [
            k
            for k, r in self._rows.items()
            if r.window_started_at < before and (r.locked_until is None or r.locked_until < before)
        ]
        for key in gone:
            del self._rows[key]
        return len(gone)
