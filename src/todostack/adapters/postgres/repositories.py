"""PostgreSQL repositories on one asyncpg connection (the unit of work's): users, lists and
idempotency keys; the todos have a module of their own (``todos.py``), sessions and sign-in
attempts theirs (``auth_tables.py``)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from todostack.adapters.postgres.deadlines import TimedConnection
from todostack.adapters.snapshots import decode_snapshot, encode_snapshot
from todostack.adapters.sql import LIST_COLUMNS, USER_COLUMNS
from todostack.domain import Conflict, TodoList, User
from todostack.usecases.idempotency import IDEMPOTENCY_TTL
from todostack.usecases.ports import ListPosition, Snapshot, StoredClaim

__all__ = ["PgIdempotency", "PgLists", "PgUsers"]


def _list(r: asyncpg.Record) -> TodoList:
    return TodoList(id=r[0], owner_id=r[1], name=r[2], created_at=r[3], updated_at=r[4], version=r[5])


class PgUsers:
    def __init__(self, conn: TimedConnection) -> None:
        self._c = conn

    async def add(self, user: User) -> None:
        try:
            await self._c.execute(
                f"INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4)",
                user.id,
                user.email,
                user.password_hash,
                user.created_at,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict("an account with this email already exists") from None

    async def get(self, user_id: str) -> User | None:
        r = await self._c.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)
        return None if r is None else User(r[0], r[1], r[2], r[3])

    async def get_by_email(self, email: str) -> User | None:
        r = await self._c.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE email = $1", email)
        return None if r is None else User(r[0], r[1], r[2], r[3])

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        await self._c.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)


class PgLists:
    def __init__(self, conn: TimedConnection) -> None:
        self._c = conn

    async def add(self, todo_list: TodoList) -> None:
        try:
            await self._c.execute(
                f"INSERT INTO todo_lists ({LIST_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)",
                todo_list.id,
                todo_list.owner_id,
                todo_list.name,
                todo_list.created_at,
                todo_list.updated_at,
                todo_list.version,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict("list id already exists") from None

    async def get(self, owner_id: str, list_id: str, *, for_update: bool = False) -> TodoList | None:
        lock = " FOR UPDATE" if for_update else ""
        r = await self._c.fetchrow(
            f"SELECT {LIST_COLUMNS} FROM todo_lists WHERE id = $1 AND owner_id = $2{lock}", list_id, owner_id
        )
        return None if r is None else _list(r)

    async def oldest(self, owner_id: str) -> TodoList | None:
        r = await self._c.fetchrow(
            f"SELECT {LIST_COLUMNS} FROM todo_lists WHERE owner_id = $1 ORDER BY created_at, id LIMIT 1", owner_id
        )
        return None if r is None else _list(r)

    async def list_for_owner(self, owner_id: str) -> list[TodoList]:
        rows = await self._c.fetch(
            f"SELECT {LIST_COLUMNS} FROM todo_lists WHERE owner_id = $1 ORDER BY created_at, id", owner_id
        )
        return [_list(r) for r in rows]

    async def page_for_owner(self, owner_id: str, after: ListPosition | None, limit: int) -> list[TodoList]:
        if after is None:
            rows = await self._c.fetch(
                f"SELECT {LIST_COLUMNS} FROM todo_lists WHERE owner_id = $1 ORDER BY created_at, id LIMIT $2",
                owner_id,
                limit,
            )
        else:
            rows = await self._c.fetch(
                f"SELECT {LIST_COLUMNS} FROM todo_lists WHERE owner_id = $1 AND (created_at, id) > ($2, $3)"
                " ORDER BY created_at, id LIMIT $4",
                owner_id,
                after[0],
                after[1],
                limit,
            )
        return [_list(r) for r in rows]

    async def count_for_owner(self, owner_id: str, up_to: int) -> int:
        # Counting stops at ``up_to``: a quota check never walks more index entries than the quota.
        n: int = await self._c.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM todo_lists WHERE owner_id = $1 LIMIT $2) AS held", owner_id, up_to
        )
        return n

    async def update(self, todo_list: TodoList) -> None:
        await self._c.execute(
            "UPDATE todo_lists SET name = $3, updated_at = $4, version = $5 WHERE id = $1 AND owner_id = $2",
            todo_list.id,
            todo_list.owner_id,
            todo_list.name,
            todo_list.updated_at,
            todo_list.version,
        )

    async def delete(self, owner_id: str, list_id: str) -> None:
        await self._c.execute("DELETE FROM todo_lists WHERE id = $1 AND owner_id = $2", list_id, owner_id)


class PgIdempotency:
    def __init__(self, conn: TimedConnection) -> None:
        self._c = conn

    async def claim(self, scope: str, key: str, fingerprint: str, now: datetime) -> StoredClaim | None:
        # A concurrent claim of the same key blocks on the primary key until the first
        # transaction ends, then falls through to reading what it committed.
        claimed = await self._c.fetchval(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (scope, key) DO UPDATE"
            " SET fingerprint = EXCLUDED.fingerprint, kind = NULL, snapshot = NULL, created_at = EXCLUDED.created_at"
            " WHERE idempotency_keys.created_at < $5 RETURNING true",
            scope,
            key,
            fingerprint,
            now,
            now - IDEMPOTENCY_TTL,
        )
        if claimed:
            return None
        r = await self._c.fetchrow(
            "SELECT fingerprint, kind, snapshot FROM idempotency_keys WHERE scope = $1 AND key = $2", scope, key
        )
        if r is None:  # pragma: no cover - the row exists: the insert above just conflicted with it
            raise Conflict("idempotency key vanished; retry")
        return StoredClaim(r[0], decode_snapshot(r[1], r[2]))

    async def complete(self, scope: str, key: str, snapshot: Snapshot) -> None:
        kind, data = encode_snapshot(snapshot)
        await self._c.execute(
            "UPDATE idempotency_keys SET kind = $3, snapshot = $4 WHERE scope = $1 AND key = $2",
            scope,
            key,
            kind,
            data,
        )
