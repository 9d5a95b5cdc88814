"""PostgreSQL: sessions and sign-in attempt counters (migration 0010)."""

from __future__ import annotations

from datetime import datetime, timedelta

from todostack.adapters.postgres.deadlines import TimedConnection
from todostack.usecases.ports import Attempt, Session

__all__ = ["PgAttempts", "PgSessions"]


class PgSessions:
    def __init__(self, conn: TimedConnection) -> None:
        self._c = conn

    async def add(self, session: Session) -> None:
        await self._c.execute(
            "INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5)",
            session.id,
            session.user_id,
            session.created_at,
            session.expires_at,
            session.revoked_at,
        )

    async def active_user(self, session_id: str, now: datetime) -> str | None:
        user: str | None = await self._c.fetchval(
            "SELECT user_id::text FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2",
            session_id,
            now,
        )
        return user

    async def revoke(self, session_id: str, now: datetime) -> None:
        await self._c.execute(
            "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", session_id, now
        )

    async def revoke_all(self, user_id: str, now: datetime) -> int:
        status = await self._c.execute(
            "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2",
            user_id,
            now,
        )
        return int(status.rsplit(" ", 1)[-1])

    async def prune(self, now: datetime) -> int:
        status = await self._c.execute("DELETE FROM sessions WHERE expires_at <= $1", now)
        return int(status.rsplit(" ", 1)[-1])


class PgAttempts:
    def __init__(self, conn: TimedConnection) -> None:
        self._c = conn

    async def attempt(self, key: str, now: datetime, window_seconds: int) -> Attempt:
        # One statement, atomic against every other worker: a locked key is left as it is (the
        # DO UPDATE's WHERE is false, nothing is returned), else its window restarts or counts on.
        count = await self._c.fetchval(
            "INSERT INTO signin_attempts AS a (key, count, window_started_at) VALUES ($1, 1, $2)"
            " ON CONFLICT (key) DO UPDATE SET"
            " count = CASE WHEN a.window_started_at <= $3 THEN 1 ELSE a.count + 1 END,"
            " window_started_at = CASE WHEN a.window_started_at <= $3 THEN $2 ELSE a.window_started_at END"
            " WHERE a.locked_until IS NULL OR a.locked_until <= $2"
            " RETURNING count",
            key,
            now,
            now - timedelta(seconds=window_seconds),
        )
        if count is not None:
            return Attempt(int(count))
        locked: datetime | None = await self._c.fetchval("SELECT locked_until FROM signin_attempts WHERE key = $1", key)
        return Attempt(0, locked or now)

    async def lock(self, key: str, until: datetime) -> None:
        await self._c.execute(
            "UPDATE signin_attempts SET locked_until = GREATEST(COALESCE(locked_until, $2), $2) WHERE key = $1",
            key,
            until,
        )

    async def refund(self, key: str) -> None:
        await self._c.execute("UPDATE signin_attempts SET count = GREATEST(count - 1, 0) WHERE key = $1", key)

    async def clear(self, key: str) -> None:
        await self._c.execute("DELETE FROM signin_attempts WHERE key = $1", key)

    async def prune(self, before: datetime) -> int:
        status = await self._c.execute(
            "DELETE FROM signin_attempts WHERE window_started_at < $1 AND (locked_until IS NULL OR locked_until < $1)",
            before,
        )
        return int(status.rsplit(" ", 1)[-1])
