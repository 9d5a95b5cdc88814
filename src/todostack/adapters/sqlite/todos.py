"""SQLite's todos: adding in one statement, and the search with its keyset pages (for text, a
bounded walk of the owner's rows or the trigram index)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import aiosqlite

from todostack.adapters.sql import TODO_COLUMNS, after_cursor, page_order, sort_expressions, todo_assignments
from todostack.adapters.sqlite.codec import dt_in, todo_from_row, todo_values
from todostack.adapters.sqlite.statements import ObservedConnection
from todostack.domain import Conflict, NotFound, Todo
from todostack.usecases.queries import SortField, TodoQuery

__all__ = ["SqliteTodos"]

_SORT_EXPR = sort_expressions("COALESCE(due, 'z')")
# FTS5's trigram index answers substrings of three characters or more (migrations 0040, 0060).
_TRIGRAM = 3
# Rows a text search walks per row of its page before it asks the trigram index instead.
_WALK_PER_ROW = 20
_TODOS = f"SELECT {TODO_COLUMNS} FROM todos"
_UPDATE = f"UPDATE todos SET {todo_assignments(['?'] * 12)} WHERE id = ? AND owner_id = ?"
_UPDATE_IF = f"{_UPDATE} AND version = ? RETURNING 1"


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

    async def place(
        self, todo: Todo, *, list_id: str | None, order: int | None, below: int | None = None
    ) -> Todo | None:
        v = todo_values(todo)
        source = _OLDEST_LIST if list_id is None else _OWN_LIST
        try:
            r = await self._c.fetchone(source, (*v[:2], list_id, *v[3:10], order, *v[11:], below))
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
        await self._c.execute(_UPDATE, (*v[2:], v[0], v[1]))

    async def update_if(self, todo: Todo, *, version: int) -> bool:
        v = todo_values(todo)
        try:
            stored = await self._c.fetchone(_UPDATE_IF, (*v[2:], v[0], v[1], version))
        except aiosqlite.IntegrityError as exc:
            if "FOREIGN KEY" in str(exc):  # the todo moves to a list deleted meanwhile
                raise NotFound(f"list {todo.list_id} not found") from None
            raise
        return stored is not None

    async def delete(self, owner_id: str, todo_id: str) -> None:
        await self._c.execute("DELETE FROM todos WHERE id = ? AND owner_id = ?", (todo_id, owner_id))

    async def search(self, query: TodoQuery) -> list[Todo]:
        f = query.filter
        where, args = _conditions(query)
        expr = _SORT_EXPR[query.sort]
        order = page_order(expr, query.descending)
        if f.text is not None:
            where.append("instr(py_lower(title || ' ' || notes), py_lower(?)) > 0")
            args.append(f.text)
        if f.text is None or len(f.text) < _TRIGRAM:
            return await self._page(_TODOS, where, args, order, query.limit)
        # A text search either walks the owner's rows in the page's order, testing each, until
        # the page is full (cheap when the text is common among them), or starts from the trigram
        # index (cheap when the text is rare, but it yields every user's matches). Walk at most
        # _WALK_PER_ROW rows per row of the page; past that, ask the index.
        walk = _WALK_PER_ROW * (query.limit + 1)
        bound = await self._c.fetchone(_bound_statement(query, expr, order), (*_bound_args(query), walk - 1))
        if bound is None:  # fewer rows left than the walk: walking them all is the bounded cost
            return await self._page(_TODOS, where, args, order, query.limit)
        within = f"({expr}, id) {'>=' if query.descending else '<='} (?, ?)"
        page = await self._page(_TODOS, [*where, within], [*args, *bound], order, query.limit)
        if len(page) > query.limit:
            return page
        # The index's candidates, each looked up by rowid; the exact test above still decides.
        source = f"SELECT {TODO_COLUMNS} FROM todos_text CROSS JOIN todos ON todos.rowid = todos_text.rowid"
        return await self._page(source, ["todos_text MATCH ?", *where], [_trigrams(f.text), *args], order, query.limit)

    async def _page(self, source: str, where: list[str], args: list[object], order: str, limit: int) -> list[Todo]:
        sql = f"{source} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?"
        return [todo_from_row(r) for r in await self._c.fetchall(sql, [*args, limit + 1])]

    async def _scalar(self, sql: str, args: tuple[object, ...]) -> object:
        r = await self._c.fetchone(sql, args)
        return None if r is None else r[0]

    async def count_for_owner(self, owner_id: str, up_to: int) -> int:
        # One row kept by the triggers of migration 0050; none yet: no todo yet.
        n = await self._scalar("SELECT todos FROM todo_counts WHERE owner_id = ?", (owner_id,))
        assert n is None or isinstance(n, int)
        return min(n or 0, up_to)

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


def _trigrams(text: str) -> str:
    """The FTS5 query for rows holding every trigram of ``text``, each a quoted string.

    The index keeps no positions (migration 0060), so it cannot match the substring as a phrase:
    it yields rows with all its trigrams anywhere, and the exact test narrows them to the substring.
    """
    grams = dict.fromkeys(text[i : i + _TRIGRAM] for i in range(len(text) - _TRIGRAM + 1))
    return " ".join('"' + gram.replace('"', '""') + '"' for gram in grams)


def _placing(source: str) -> str:
    # Parameters: id, owner, list (NULL for the oldest), title … tags, order (NULL: one past the
    # highest), created_at, updated_at, version, the quota (NULL: none; compared with the owner's
    # count, migration 0050). Named by number: ?2, ?3 and ?15 are each used more than once.
    return (
        f"INSERT INTO todos ({TODO_COLUMNS}) SELECT ?1, ?2, l.id, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
        " COALESCE(?11, (SELECT max(t.position) + 1 FROM todos t WHERE t.owner_id = ?2 AND t.list_id = l.id), 0),"
        f" ?12, ?13, ?14 FROM ({source}) l"
        " WHERE ?15 IS NULL OR COALESCE((SELECT c.todos FROM todo_counts c WHERE c.owner_id = ?2), 0) < ?15"
        " RETURNING list_id, position"
    )


_OWN_LIST = _placing("SELECT id FROM todo_lists WHERE id = ?3 AND owner_id = ?2")
_OLDEST_LIST = _placing("SELECT id FROM todo_lists WHERE owner_id = ?2 ORDER BY created_at, id LIMIT 1")


def _conditions(query: TodoQuery) -> tuple[list[str], list[object]]:
    """Every condition of a search but the text, and their arguments."""
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
    if query.after is not None:
        where.append(_after(query))
        args.extend(_cursor_args(query))
    return where, args


def _after(query: TodoQuery) -> str:
    key_sql = "COALESCE(?, 'z')" if query.sort is SortField.DUE else "?"
    return after_cursor(_SORT_EXPR[query.sort], query.descending, key_sql, "?")


def _cursor_args(query: TodoQuery) -> tuple[object, ...]:
    if query.after is None:
        return ()
    key = query.after.key
    return (dt_in(key) if isinstance(key, datetime) else key, query.after.id)


def _bound_statement(query: TodoQuery, expr: str, order: str) -> str:
    """The sort key and id of the owner's row a walk would stop at (the list's, with ``list_id``),
    past the cursor: read from the sort's index alone."""
    where = ["owner_id = ?"]
    if query.filter.list_id is not None:
        where.append("list_id = ?")
    if query.after is not None:
        where.append(_after(query))
    return f"SELECT {expr}, id FROM todos WHERE {' AND '.join(where)} ORDER BY {order} LIMIT 1 OFFSET ?"


def _bound_args(query: TodoQuery) -> tuple[object, ...]:
    in_list = () if query.filter.list_id is None else (query.filter.list_id,)
    return (query.owner_id, *in_list, *_cursor_args(query))
