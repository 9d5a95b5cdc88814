"""The change feed's outbox on PostgreSQL (the trigger of migration 0030 writes it).

Readers see numbered changes only (``id`` set by the sequencer in ``feed.py`` once the write
committed), so ids appear in the order they become visible.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import asyncpg

from todostack.adapters.postgres.deadlines import TimedConnection, statement_timeout
from todostack.adapters.postgres.feed import sequence
from todostack.context import DeadlineExceeded
from todostack.domain import Change, ChangeKind, Entity

__all__ = ["PgChanges"]

_COLUMNS = "id, entity, entity_id, owner_id, version, kind, at"


def _change(r: asyncpg.Record) -> Change:
    return Change(r[0], Entity(r[1]), r[2], r[3], r[4], ChangeKind(r[5]), r[6])


class PgChanges:
    def __init__(self, conn: TimedConnection) -> None:
        self._c = conn

    async def _numbered(self) -> None:
        """Read your writes: a change committed before this read gets its id now, not when a
        listener gets round to it (one cheap look at a partial index when there is none)."""
        if await self._c.fetchval("SELECT EXISTS (SELECT 1 FROM changes WHERE id IS NULL)"):
            try:
                async with asyncio.timeout(statement_timeout()):
                    await sequence(self._c.raw)
            except TimeoutError:
                raise DeadlineExceeded("the request ran out of time numbering changes") from None

    async def since(self, owner_id: str, after: int, limit: int) -> list[Change]:
        await self._numbered()
        rows = await self._c.fetch(
            f"SELECT {_COLUMNS} FROM changes WHERE owner_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            owner_id,
            after,
            limit,
        )
        return [_change(r) for r in rows]

    async def recent(self, after: int, limit: int) -> list[Change]:
        rows = await self._c.fetch(f"SELECT {_COLUMNS} FROM changes WHERE id > $1 ORDER BY id LIMIT $2", after, limit)
        return [_change(r) for r in rows]

    async def latest(self) -> int:
        # Kept in the horizon row too would cost a write per numbering; the unique index on id
        # answers max() from its last page.
        value = await self._c.fetchval(
            "SELECT greatest((SELECT max(id) FROM changes), (SELECT pruned_through FROM changes_horizon))"
        )
        return int(value or 0)

    async def horizon(self) -> int:
        return int(await self._c.fetchval("SELECT pruned_through FROM changes_horizon") or 0)

    async def prune(self, before: datetime, limit: int) -> int:
        r = await self._c.fetchrow(
            "SELECT max(id), count(*) FROM (SELECT id FROM changes WHERE id IS NOT NULL AND at < $1"
            " ORDER BY id LIMIT $2) old",
            before,
            limit,
        )
        if r is None or r[0] is None:
            return 0
        through = int(r[0])
        await self._c.execute("DELETE FROM changes WHERE id <= $1", through)
        await self._c.execute("UPDATE changes_horizon SET pruned_through = greatest(pruned_through, $1)", through)
        return int(r[1])
