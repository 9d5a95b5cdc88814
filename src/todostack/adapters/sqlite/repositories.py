"""SQLite repositories on one aiosqlite connection (the unit of work's): users, lists and
idempotency keys; the todos have a module of their own (``todos.py``), sessions and sign-in
attempts theirs (``auth_tables.py``)."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from todostack.adapters.snapshots import decode_snapshot, encode_snapshot
from todostack.adapters.sql import LIST_COLUMNS, USER_COLUMNS
from todostack.adapters.sqlite.codec import dt_in, dt_out, list_from_row
from todostack.adapters.sqlite.statements import ObservedConnection
from todostack.domain import Conflict, TodoList, User
from todostack.usecases.idempotency import IDEMPOTENCY_TTL
from todostack.usecases.ports import ListPosition, Snapshot, StoredClaim

__all__ = ["SqliteIdempotency", "SqliteLists", "SqliteUsers"]


class SqliteUsers:
    def __init__(self, conn: ObservedConnection) -> None:
        self._c = conn

    async def add(self, user: User) -> None:
        try:
            await self._c.execute(
                f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?)",
                (user.id, user.email, user.password_hash, dt_in(user.created_at)),
            )
        except aiosqlite.IntegrityError:
            raise Conflict("an account with this email already exists") from None

    async def _one(self, where: str, value: str) -> User | None:
        r = await self._c.fetchone(f"SELECT {USER_COLUMNS} FROM users WHERE {where} = ?", (value,))
        return None if r is None else User(r[0], r[1], r[2], dt_out(r[3]))

    async def get(self, user_id: str) -> User | None:
        return await self._one("id", user_id)

    async def get_by_email(self, email: str) -> User | None:
        return await self._one("email", email)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        await self._c.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))


class SqliteLists:
    def __init__(self, conn: ObservedConnection) -> None:
        self._c = conn

    async def add(self, todo_list: TodoList) -> None:
        try:
            await self._c.execute(
                f"INSERT INTO todo_lists ({LIST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    todo_list.id,
                    todo_list.owner_id,
                    todo_list.name,
                    dt_in(todo_list.created_at),
                    dt_in(todo_list.updated_at),
                    todo_list.version,
                ),
            )
        except aiosqlite.IntegrityError:
            raise Conflict("list id already exists") from None

    async def get(self, owner_id: str, list_id: str, *, for_update: bool = False) -> TodoList | None:
        # Writes hold SQLite's single write lock already (BEGIN IMMEDIATE): no row locks needed.
        r = await self._c.fetchone(
            f"SELECT {LIST_COLUMNS} FROM todo_lists WHERE id = ? AND owner_id = ?", (list_id, owner_id)
        )
        return None if r is None else list_from_row(r)

    async def oldest(self, owner_id: str) -> TodoList | None:
        found = await self.list_for_owner(owner_id, limit=1)
        return found[0] if found else None

    async def list_for_owner(self, owner_id: str, limit: int = -1) -> list[TodoList]:
        rows = await self._c.fetchall(
            f"SELECT {LIST_COLUMNS} FROM todo_lists WHERE owner_id = ? ORDER BY created_at, id LIMIT ?",
            (owner_id, limit),
        )
        return [list_from_row(r) for r in rows]

    async def page_for_owner(self, owner_id: str, after: ListPosition | None, limit: int) -> list[TodoList]:
        if after is None:
            return await self.list_for_owner(owner_id, limit=limit)
        created = dt_in(after[0])
        rows = await self._c.fetchall(
            f"SELECT {LIST_COLUMNS} FROM todo_lists WHERE owner_id = ?"
            " AND (created_at > ? OR (created_at = ? AND id > ?)) ORDER BY created_at, id LIMIT ?",
            (owner_id, created, created, after[1], limit),
        )
        return [list_from_row(r) for r in rows]

    async def count_for_owner(self, owner_id: str, up_to: int) -> int:
        r = await self._c.fetchone(
            "SELECT count(*) FROM (SELECT 1 FROM todo_lists WHERE owner_id = ? LIMIT ?)", (owner_id, up_to)
        )
        assert r is not None
        n = r[0]
        assert isinstance(n, int)
        return n

    async def update(self, todo_list: TodoList) -> None:
        await self._c.execute(
            "UPDATE todo_lists SET name = ?, updated_at = ?, version = ? WHERE id = ? AND owner_id = ?",
            (todo_list.name, dt_in(todo_list.updated_at), todo_list.version, todo_list.id, todo_list.owner_id),
        )

    async def delete(self, owner_id: str, list_id: str) -> None:
        await self._c.execute("DELETE FROM todo_lists WHERE id = ? AND owner_id = ?", (list_id, owner_id))


class SqliteIdempotency:
    def __init__(self, conn: ObservedConnection) -> None:
        self._c = conn

    async def claim(self, scope: str, key: str, fingerprint: str, now: datetime) -> StoredClaim | None:
        r = await self._c.fetchone(
            "SELECT fingerprint, kind, snapshot, created_at FROM idempotency_keys WHERE scope = ? AND key = ?",
            (scope, key),
        )
        if r is not None and dt_out(r[3]) > now - IDEMPOTENCY_TTL:
            return StoredClaim(r[0], decode_snapshot(r[1], r[2]))
        await self._c.execute(
            "INSERT OR REPLACE INTO idempotency_keys (scope, key, fingerprint, kind, snapshot, created_at)"
            " VALUES (?, ?, ?, NULL, NULL, ?)",
            (scope, key, fingerprint, dt_in(now)),
        )
        return None

    async def complete(self, scope: str, key: str, snapshot: Snapshot) -> None:
        kind, data = encode_snapshot(snapshot)
        await self._c.execute(
            "UPDATE idempotency_keys SET kind = ?, snapshot = ? WHERE scope = ? AND key = ?", (kind, data, scope, key)
        )
