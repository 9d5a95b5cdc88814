"""SQLite repositories on one aiosqlite connection (the unit of work's)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import aiosqlite

from todostack.adapters.snapshots import decode_snapshot, encode_snapshot
from todostack.adapters.sql import LIST_COLUMNS, TODO_COLUMNS, sort_expressions
from todostack.adapters.sqlite.codec import (
    dt_in,
    dt_out,
    list_from_row,
    todo_from_row,
    todo_values,
)
from todostack.adapters.sqlite.statements import ObservedConnection
from todostack.domain import Conflict, NotFound, Todo, TodoList, User
from todostack.usecases.idempotency import IDEMPOTENCY_TTL
from todostack.usecases.ports import ListPosition, Snapshot, StoredClaim
from todostack.usecases.queries import SortField, TodoQuery

__all__ = ["SqliteIdempotency", "SqliteLists", "SqliteTodos", "SqliteUsers"]

_SORT_EXPR = sort_expressions("COALESCE(due, 'z')")


# FTS5's trigram index answers substrings of three characters or more (migration 0040).
_TRIGRAM = 3


class SqliteUsers:
    def __init__(self, conn: ObservedConnection) -> None:
        self._c = conn

    async def add(self, user: User) -> None:
        try:
            await self._c.execute(
                "INSERT INTO users (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)",
                (user.id, user.email, user.password_hash, dt_in(user.created_at)),
            )
        except aiosqlite.IntegrityError:
            raise Conflict("an account with this email already exists") from None

    async def _one(self, where: str, value: str) -> User | None:
        r = await self._c.fetchone(
            f"SELECT id, email, password_hash, created_at FROM users WHERE {where} = ?", (value,)
        )
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


class SqliteTodos:
    def __init__(self, conn: ObservedConnection) -> None:
        self._c = conn

    async def add(self, todo: Todo) -> None:
        try:
            await self._c.execute(
                f"INSERT INTO todos ({TODO_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                todo_values(todo),
            )
        except aiosqlite.IntegrityError as exc:
            if "FOREIGN KEY" in str(exc):
                raise NotFound(f"list {todo.list_id} not found") from None
            raise Conflict("todo id already exists") from None

    async def place(self, todo: Todo, *, list_id: str | None, order: int | None) -> Todo | None:
        v = todo_values(todo)
        source = _OLDEST_LIST if list_id is None else _OWN_LIST
        try:
            r = await self._c.fetchone(source, (*v[:2], list_id, *v[3:10], order, *v[11:]))
        except aiosqlite.IntegrityError:
            raise Conflict("todo id already exists") from None
        return None if r is None else replace(todo, list_id=r[0], order=r[1])

    async def get(self, owner_id: str, todo_id: str, *, for_update: bool = False) -> Todo | None:
        r = await self._c.fetchone(
            f"SELECT {TODO_COLUMNS} FROM todos WHERE id = ? AND owner_id = ?", (todo_id, owner_id)
        )
        return None if r is None else todo_from_row(r)

    async def update(self, todo: Todo) -> None:
        v = todo_values(todo)
        await self._c.execute(
            "UPDATE todos SET list_id = ?, title = ?, notes = ?, completed = ?, completed_at = ?, due = ?,"
            " priority = ?, tags = ?, position = ?, created_at = ?, updated_at = ?, version = ?"
            " WHERE id = ? AND owner_id = ?",
            (*v[2:], v[0], v[1]),
        )

    async def update_if(self, todo: Todo, *, version: int) -> bool:
        v = todo_values(todo)
        try:
            stored = await self._c.fetchone(
                "UPDATE todos SET list_id = ?, title = ?, notes = ?, completed = ?, completed_at = ?, due = ?,"
                " priority = ?, tags = ?, position = ?, created_at = ?, updated_at = ?, version = ?"
                " WHERE id = ? AND owner_id = ? AND version = ? RETURNING 1",
                (*v[2:], v[0], v[1], version),
            )
        except aiosqlite.IntegrityError as exc:
            if "FOREIGN KEY" in str(exc):  # the todo moves to a list deleted meanwhile
                raise NotFound(f"list {todo.list_id} not found") from None
            raise
        return stored is not None

    async def delete(self, owner_id: str, todo_id: str) -> None:
        await self._c.execute("DELETE FROM todos WHERE id = ? AND owner_id = ?", (todo_id, owner_id))

    async def search(self, query: TodoQuery) -> list[Todo]:
        f = query.filter
        where = ["owner_id = ?"]
        args: list[object] = [query.owner_id]
        if f.list_id is not None:
            where.append("list_id = ?")
            args.append(f.list_id)
        if f.completed is not None:
            where.append("completed = ?")
            args.append(int(f.completed))
        if f.due_before is not None:
            where.append("due < ?")
            args.append(dt_in(f.due_before))
        if f.due_after is not None:
            where.append("due > ?")
            args.append(dt_in(f.due_after))
        if f.tag is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(todos.tags) WHERE json_each.value = ?)")
            args.append(f.tag)
        if f.text is not None:
            if len(f.text) >= _TRIGRAM:
                # The trigram index finds the candidates; the exact test below still decides.
                where.append("rowid IN (SELECT rowid FROM todos_text WHERE todos_text MATCH ?)")
                args.append('"' + f.text.replace('"', '""') + '"')  # one phrase: the substring
            where.append("instr(py_lower(title || ' ' || notes), py_lower(?)) > 0")
            args.append(f.text)
        expr = _SORT_EXPR[query.sort]
        direction = "DESC" if query.descending else "ASC"
        if query.after is not None:
            op = "<" if query.descending else ">"
            key = query.after.key
            if query.sort is SortField.DUE:
                where.append(f"({expr}, id) {op} (COALESCE(?, 'z'), ?)")
            else:
                where.append(f"({expr}, id) {op} (?, ?)")
            args.extend((dt_in(key) if isinstance(key, datetime) else key, query.after.id))
        args.append(query.limit + 1)
        sql = (
            f"SELECT {TODO_COLUMNS} FROM todos WHERE {' AND '.join(where)}"
            f" ORDER BY {expr} {direction}, id {direction} LIMIT ?"
        )
        return [todo_from_row(r) for r in await self._c.fetchall(sql, args)]

    async def _scalar(self, sql: str, args: tuple[object, ...]) -> object:
        r = await self._c.fetchone(sql, args)
        return None if r is None else r[0]

    async def count_for_owner(self, owner_id: str, up_to: int) -> int:
        sql = "SELECT count(*) FROM (SELECT 1 FROM todos WHERE owner_id = ? LIMIT ?)"
        n = await self._scalar(sql, (owner_id, up_to))
        assert isinstance(n, int)
        return n

    async def count_in_list(self, owner_id: str, list_id: str) -> int:
        n = await self._scalar("SELECT count(*) FROM todos WHERE owner_id = ? AND list_id = ?", (owner_id, list_id))
        assert isinstance(n, int)
        return n

    async def max_order(self, owner_id: str, list_id: str) -> int | None:
        n = await self._scalar(
            "SELECT max(position) FROM todos WHERE owner_id = ? AND list_id = ?", (owner_id, list_id)
        )
        return n if isinstance(n, int) else None

    async def complete_all(self, owner_id: str, list_id: str, now: datetime) -> int:
        cur = await self._c.execute(
            "UPDATE todos SET completed = 1, completed_at = ?, updated_at = ?, version = version + 1"
            " WHERE owner_id = ? AND list_id = ? AND NOT completed",
            (dt_in(now), dt_in(now), owner_id, list_id),
        )
        return cur.rowcount

    async def clear_completed(self, owner_id: str, list_id: str) -> int:
        cur = await self._c.execute(
            "DELETE FROM todos WHERE owner_id = ? AND list_id = ? AND completed", (owner_id, list_id)
        )
        return cur.rowcount


def _placing(source: str) -> str:
    # Parameters: id, owner, list (NULL for the oldest), title … tags, order (NULL: one past the
    # highest), created_at, updated_at, version. ?2 and ?3 are named by number: each is used twice.
    return (
        f"INSERT INTO todos ({TODO_COLUMNS}) SELECT ?1, ?2, l.id, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
        " COALESCE(?11, (SELECT max(t.position) + 1 FROM todos t WHERE t.owner_id = ?2 AND t.list_id = l.id), 0),"
        f" ?12, ?13, ?14 FROM ({source}) l RETURNING list_id, position"
    )


_OWN_LIST = _placing("SELECT id FROM todo_lists WHERE id = ?3 AND owner_id = ?2")
_OLDEST_LIST = _placing("SELECT id FROM todo_lists WHERE owner_id = ?2 ORDER BY created_at, id LIMIT 1")


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
