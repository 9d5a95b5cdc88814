"""SQLite: sessions and sign-in attempt counters (migration 0010)."""

from __future__ import annotations

from datetime import datetime, timedelta

from todostack.adapters.sqlite.codec import dt_in, dt_out
from todostack.adapters.sqlite.statements import ObservedConnection
from todostack.usecases.ports import Attempt, Session

__all__ = ["SqliteAttempts", "SqliteSessions"]


class SqliteSessions:
    def __init__(self, conn: ObservedConnection) -> None:
        self._c = conn

    async def add(self, session: Session) -> None:
        revoked = None if session.revoked_at is None else dt_in(session.revoked_at)
        await self._c.execute(
            "INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?)",
            (session.id, session.user_id, dt_in(session.created_at), dt_in(session.expires_at), revoked),
        )

    async def active_user(self, session_id: str, now: datetime) -> str | None:
        r = await self._c.fetchone(
            "SELECT user_id FROM sessions WHERE id = ? AND revoked_at IS NULL AND expires_at > ?",
            (session_id, dt_in(now)),
        )
        return None if r is None else str(r[0])

    async def revoke(self, session_id: str, now: datetime) -> None:
        await self._c.execute(
            "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (dt_in(now), session_id)
        )

    async def revoke_all(self, user_id: str, now: datetime) -> int:
        async with self._c.execute(
            "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?",
            (dt_in(now), user_id, dt_in(now)),
        ) as cursor:
            return cursor.rowcount

    async def prune(self, now: datetime) -> int:
        async with self._c.execute("DELETE FROM sessions WHERE expires_at <= ?", (dt_in(now),)) as cursor:
            return cursor.rowcount


class SqliteAttempts:
    def __init__(self, conn: ObservedConnection) -> None:
        self._c = conn

    async def attempt(self, key: str, now: datetime, window_seconds: int) -> Attempt:
        # The same upsert as PostgreSQL's: a locked key is left alone and nothing is returned.
        at, window_start = dt_in(now), dt_in(now - timedelta(seconds=window_seconds))
        r = await self._c.fetchone(
            "INSERT INTO signin_attempts (key, count, window_started_at) VALUES (?1, 1, ?2)"
            " ON CONFLICT (key) DO UPDATE SET"
            " count = CASE WHEN window_started_at <= ?3 THEN 1 ELSE count + 1 END,"
            " window_started_at = CASE WHEN window_started_at <= ?3 THEN ?2 ELSE window_started_at END"
            " WHERE locked_until IS NULL OR locked_until <= ?2"
            " RETURNING count",
            (key, at, window_start),
        )
        if r is not None:
            return Attempt(int(r[0]))
        locked = await self._c.fetchone("SELECT locked_until FROM signin_attempts WHERE key = ?", (key,))
        return Attempt(0, dt_out(locked[0]) if locked is not None and locked[0] is not None else now)

    async def lock(self, key: str, until: datetime) -> None:
        await self._c.execute(
            "UPDATE signin_attempts SET locked_until = MAX(COALESCE(locked_until, ?2), ?2) WHERE key = ?1",
            (key, dt_in(until)),
        )

    async def refund(self, key: str) -> None:
        await self._c.execute("UPDATE signin_attempts SET count = MAX(count - 1, 0) WHERE key = ?", (key,))

    async def clear(self, key: str) -> None:
        await self._c.execute("DELETE FROM signin_attempts WHERE key = ?", (key,))

    async def prune(self, before: datetime) -> int:
        at = dt_in(before)
        async with self._c.execute(
            "DELETE FROM signin_attempts WHERE window_started_at < ? AND (locked_until IS NULL OR locked_until < ?)",
            (at, at),
        ) as cursor:
            return cursor.rowcount
