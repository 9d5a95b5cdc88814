"""The change feed's outbox on SQLite (the triggers of migration 0030 write it)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from todostack.adapters.sqlite.codec import dt_in, dt_out
from todostack.adapters.sqlite.statements import ObservedConnection
from todostack.domain import Change, ChangeKind, Entity

__all__ = ["SqliteChanges"]

_COLUMNS = "id, entity, entity_id, owner_id, version, kind, at"


def _change(r: sqlite3.Row) -> Change:
    return Change(r[0], Entity(r[1]), r[2], r[3], r[4], ChangeKind(r[5]), dt_out(r[6]))


class SqliteChanges:
    def __init__(self, conn: ObservedConnection) -> None:
        self._c = conn

    async def since(self, owner_id: str, after: int, limit: int) -> list[Change]:
        rows = await self._c.fetchall(
            f"SELECT {_COLUMNS} FROM changes WHERE owner_id = ? AND id > ? ORDER BY id LIMIT ?",
            (owner_id, after, limit),
        )
        return [_change(r) for r in rows]

    async def recent(self, after: int, limit: int) -> list[Change]:
        rows = await self._c.fetchall(
            f"SELECT {_COLUMNS} FROM changes WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
        )
        return [_change(r) for r in rows]

    async def latest(self) -> int:
        # AUTOINCREMENT keeps the highest id ever handed out, pruned or not.
        r = await self._c.fetchone("SELECT seq FROM sqlite_sequence WHERE name = 'changes'")
        return 0 if r is None else int(r[0])

    async def horizon(self) -> int:
        r = await self._c.fetchone("SELECT pruned_through FROM changes_horizon")
        return 0 if r is None else int(r[0])

    async def prune(self, before: datetime, limit: int) -> int:
        r = await self._c.fetchone(
            "SELECT max(id), count(*) FROM (SELECT id FROM changes WHERE at < ? ORDER BY id LIMIT ?)",
            (dt_in(before), limit),
        )
        if r is None or r[0] is None:
            return 0
        through = int(r[0])
        await self._c.execute("DELETE FROM changes WHERE id <= ?", (through,))
        await self._c.execute("UPDATE changes_horizon SET pruned_through = max(pruned_through, ?)", (through,))
        return int(r[1])
