"""PostgreSQL's todos: rows to ``Todo`` and back, adding in one round trip, and the search with its
keyset pages. The statements are module-level names: ``bench/baseline_raw.py`` sends the very same."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import asyncpg

from todostack.adapters.postgres.deadlines import TimedConnection
from todostack.adapters.sql import TODO_COLUMNS, after_cursor, page_order, sort_expressions, todo_assignments
from todostack.domain import Conflict, NotFound, Priority, Todo
from todostack.usecases.queries import SortField, TodoQuery

__all__ = [
    "PLACE_IN_LIST",
    "PLACE_IN_OLDEST_LIST",
    "TODO_BY_ID",
    "TODO_COUNT",
    "WALK_PER_ROW",
    "OwnerSizes",
    "PgTodos",
    "search_statement",
]

_DUE = "COALESCE(due, 'infinity'::timestamptz)"
_SORT_EXPR = sort_expressions(_DUE)
_KEY_CAST = {
    SortField.ORDER: "{}::bigint",
    SortField.CREATED: "{}::timestamptz",
    SortField.PRIORITY: "{}::smallint",
    SortField.DUE: "COALESCE({}::timestamptz, 'infinity'::timestamptz)",
}


def _todo(r: asyncpg.Record) -> Todo:
    # Positional, in Todo's field order (the contract suite checks every field): a frozen
    # dataclass pays per argument, and keywords cost 30 % more on a 50-row page.
    return Todo(
        r[0],  # id
        r[1],  # owner_id
        r[2],  # list_id
        r[3],  # title
        r[4],  # notes
        r[5],  # completed
        r[6],  # completed_at
        r[7],  # due
        _BY_RANK[r[8]],  # priority
        tuple(r[9]),  # tags
        r[10],  # order
        r[11],  # created_at
        r[12],  # updated_at
        r[13],  # version
    )


_BY_RANK = {p.rank: p for p in Priority}

TODO_BY_ID = f"SELECT {TODO_COLUMNS} FROM todos WHERE id = $1 AND owner_id = $2"
_TODO_FOR_UPDATE = f"{TODO_BY_ID} FOR UPDATE"
_UPDATE = f"UPDATE todos SET {todo_assignments([f'${i}' for i in range(3, 15)])} WHERE id = $1 AND owner_id = $2"
_UPDATE_IF = f"{_UPDATE} AND version = $15"
TODO_COUNT = "SELECT sum(todos)::bigint FROM todo_counts WHERE owner_id = $1"
# A tag or text search walks the owner's todos, rather than ask an index, when the owner has at
# most this many per row of the page (SQLite's text search walks as far: adapters/sqlite/todos.py).
WALK_PER_ROW = 20


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class OwnerSizes:
    """How many todos recent owners have, as this process last read them: what a search needs to
    choose how to read (``PgTodos.search``), never what a rule decides on (the quota reads the
    counter itself). Read at most once a ``ttl`` per owner: the read is a round trip, and a
    search that paid it cost 15 % more (docs/benchmarks.md, "Small owners walk their todos")."""

    def __init__(self, *, ttl: float = 60.0, capacity: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._known: dict[str, tuple[int, float]] = {}  # owner -> (todos, read at)

    def get(self, owner_id: str) -> int | None:
        known = self._known.get(owner_id)
        if known is None or self._clock() - known[1] >= self._ttl:
            return None
        return known[0]

    def put(self, owner_id: str, todos: int) -> None:
        if len(self._known) >= self._capacity and owner_id not in self._known:
            del self._known[next(iter(self._known))]  # the one read longest ago
        self._known.pop(owner_id, None)
        self._known[owner_id] = (todos, self._clock())


class PgTodos:
    def __init__(self, conn: TimedConnection, sizes: OwnerSizes | None = None) -> None:
        self._c = conn
        self._sizes = sizes or OwnerSizes(ttl=0)

    async def add(self, todo: Todo) -> None:
        try:
            await self._c.execute(
                f"INSERT INTO todos ({TODO_COLUMNS})"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                *_todo_values(todo),
            )
        except asyncpg.UniqueViolationError:
            raise Conflict("todo id already exists") from None
        except asyncpg.ForeignKeyViolationError:
            raise NotFound(f"list {todo.list_id} not found") from None

    async def place(
        self, todo: Todo, *, list_id: str | None, order: int | None, below: int | None = None
    ) -> Todo | None:
        # One round trip instead of four (the quota's count, find the list, find its highest
        # position, insert); run outside a transaction, one instead of six. Like the separate
        # statements, it does not lock the list: two todos appended to a list at the same moment
        # may share a position, and the id then orders them.
        values = _todo_values(todo)
        args: tuple[object, ...]
        if list_id is None:
            source, args = PLACE_IN_OLDEST_LIST, (*values[:2], *values[3:10], order, *values[11:], below)
        else:
            source, args = PLACE_IN_LIST, (*values[:2], list_id, *values[3:10], order, *values[11:], below)
        try:
            r = await self._c.fetchrow(source, *args)
        except asyncpg.UniqueViolationError:
            raise Conflict("todo id already exists") from None
        except asyncpg.ForeignKeyViolationError:  # the list was deleted by a transaction meanwhile
            if list_id is not None:
                raise NotFound(f"list {list_id} not found") from None
            raise Conflict("the list was deleted while the todo was added; retry") from None
        return None if r is None else replace(todo, list_id=r[0], order=r[1])

    async def get(self, owner_id: str, todo_id: str, *, for_update: bool = False) -> Todo | None:
        r = await self._c.fetchrow(_TODO_FOR_UPDATE if for_update else TODO_BY_ID, todo_id, owner_id)
        return None if r is None else _todo(r)

    async def update(self, todo: Todo) -> None:
        try:
            await self._c.execute(_UPDATE, *_todo_values(todo))
        except asyncpg.ForeignKeyViolationError:
            raise NotFound(f"list {todo.list_id} not found") from None

    async def update_if(self, todo: Todo, *, version: int) -> bool:
        try:
            status = await self._c.execute(_UPDATE_IF, *_todo_values(todo), version)
        except asyncpg.ForeignKeyViolationError:
            raise NotFound(f"list {todo.list_id} not found") from None
        return status == "UPDATE 1"

    async def delete(self, owner_id: str, todo_id: str) -> None:
        await self._c.execute("DELETE FROM todos WHERE id = $1 AND owner_id = $2", todo_id, owner_id)

    async def search(self, query: TodoQuery) -> list[Todo]:
        f = query.filter
        walk = False
        if f.text is not None or f.tag is not None:
            # An owner with few todos: walking them in the page's order costs less than the
            # owner-first GIN indexes, which decode the posting lists of every user's rows near
            # the owner's (the planner does not count that CPU, and picks the index once the
            # table is large). At 5 M rows the bitmap cost the database twice the CPU per search
            # and the service its p99 (docs/benchmarks.md, "Small owners walk their todos").
            n = self._sizes.get(query.owner_id)
            if n is None:
                n = await self._todos_of(query.owner_id)
                self._sizes.put(query.owner_id, n)
            walk = n <= WALK_PER_ROW * (query.limit + 1)
        sql, args = search_statement(query, walk=walk)
        return [_todo(r) for r in await self._c.fetch(sql, *args)]

    async def count_for_owner(self, owner_id: str, up_to: int) -> int:
        return min(await self._todos_of(owner_id), up_to)

    async def _todos_of(self, owner_id: str) -> int:
        # The owner's slots (at most 16) kept by the triggers of migration 0050; none: no todo yet.
        n: int | None = await self._c.fetchval(TODO_COUNT, owner_id)
        return n or 0

    async def count_in_list(self, owner_id: str, list_id: str) -> int:
        n: int = await self._c.fetchval(
            "SELECT count(*) FROM todos WHERE owner_id = $1 AND list_id = $2", owner_id, list_id
        )
        return n

    async def max_order(self, owner_id: str, list_id: str) -> int | None:
        # ORDER BY … LIMIT 1 rather than max(): one step down the (owner, list, position) index.
        n: int | None = await self._c.fetchval(
            "SELECT position FROM todos WHERE owner_id = $1 AND list_id = $2 ORDER BY position DESC LIMIT 1",
            owner_id,
            list_id,
        )
        return n

    async def complete_all(self, owner_id: str, list_id: str, now: datetime) -> int:
        status = await self._c.execute(
            "UPDATE todos SET completed = true, completed_at = $3, updated_at = $3, version = version + 1"
            " WHERE owner_id = $1 AND list_id = $2 AND NOT completed",
            owner_id,
            list_id,
            now,
        )
        return int(status.rsplit(" ", 1)[1])

    async def clear_completed(self, owner_id: str, list_id: str) -> int:
        status = await self._c.execute(
            "DELETE FROM todos WHERE owner_id = $1 AND list_id = $2 AND completed", owner_id, list_id
        )
        return int(status.rsplit(" ", 1)[1])


def _placing(list_param: str, source: str) -> str:
    # $1 id, $2 owner, then the list (if named), the fields from title to tags, the order
    # (NULL: one past the highest), created_at, updated_at, version, and the quota (NULL: none),
    # compared with the owner's count as TODO_COUNT reads it.
    n = 3 if list_param else 2
    p = [f"${i}" for i in range(n + 1, n + 13)]
    return (
        f"INSERT INTO todos ({TODO_COLUMNS}) SELECT $1, $2, l.id, {', '.join(p[:7])},"
        f" COALESCE({p[7]}::bigint, (SELECT t.position + 1 FROM todos t WHERE t.owner_id = $2"
        " AND t.list_id = l.id ORDER BY t.position DESC LIMIT 1), 0),"
        f" {', '.join(p[8:11])} FROM ({source}) l"
        f" WHERE {p[11]}::bigint IS NULL"
        f" OR COALESCE((SELECT sum(c.todos) FROM todo_counts c WHERE c.owner_id = $2), 0) < {p[11]}::bigint"
        " RETURNING list_id, position"
    )


PLACE_IN_LIST = _placing("$3", "SELECT id FROM todo_lists WHERE id = $3 AND owner_id = $2")
PLACE_IN_OLDEST_LIST = _placing("", "SELECT id FROM todo_lists WHERE owner_id = $2 ORDER BY created_at, id LIMIT 1")


def _todo_values(t: Todo) -> tuple[object, ...]:
    return (
        t.id,
        t.owner_id,
        t.list_id,
        t.title,
        t.notes,
        t.completed,
        t.completed_at,
        t.due,
        t.priority.rank,
        list(t.tags),
        t.order,
        t.created_at,
        t.updated_at,
        t.version,
    )


def search_statement(query: TodoQuery, *, walk: bool = False) -> tuple[str, list[object]]:
    """The statement of one page of a search, and its arguments.

    ``walk``: the tag and text tests in forms no index serves (the same rows: ``$k = ANY(tags)``
    for ``tags @> ARRAY[$k]``, a case-folded substring for ``ILIKE '%…%'``), so that the planner
    walks the owner's rows in the page's order, testing each, and stops at a full page."""
    f = query.filter
    args: list[object] = [query.owner_id]
    where = ["owner_id = $1"]

    def arg(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    if f.list_id is not None:
        where.append(f"list_id = {arg(f.list_id)}")
    if f.completed is not None:
        where.append(f"completed = {arg(f.completed)}")
    # Dates as the due indexes hold them (no date: infinity), the same rows for a finite date: a
    # date few todos precede is then a range of the owner's due index (24 buffers for the heavy
    # user at 5 M, where ``due < $2`` read all 100,000 of its rows: docs/benchmarks.md).
    if f.due_before is not None:
        where.append(f"{_DUE} < {arg(f.due_before)}")
    if f.due_after is not None:
        where.append(f"{_DUE} > {arg(f.due_after)} AND {_DUE} < 'infinity'::timestamptz")
    if f.tag is not None:
        where.append(f"{arg(f.tag)}::text = ANY(tags)" if walk else f"tags @> ARRAY[{arg(f.tag)}::text]")
    if f.text is not None and walk:
        where.append(f"strpos(lower(title || ' ' || notes), lower({arg(f.text)}::text)) > 0")
    elif f.text is not None:
        where.append(f"(title || ' ' || notes) ILIKE {arg('%' + _escape_like(f.text) + '%')}")
    expr = _SORT_EXPR[query.sort]
    if query.after is not None:
        key = _KEY_CAST[query.sort].format(arg(query.after.key))
        # The cursor's values go in as scalar subqueries, for the planner: given the values
        # themselves, it estimates the comparison from the key's histogram over the whole
        # table (positions of every user's lists mixed together), expects a handful of rows
        # deep in a big list, and picks a bitmap scan plus a sort of everything after the
        # cursor (1,600 rows 32 pages into a 4,000-todo list; tests/integration/
        # test_index_plans.py). Values it cannot see get the default estimate (a third of
        # the list), and the list is read in index order, 51 rows, however deep the page.
        row_id = f"(SELECT {arg(query.after.id)}::uuid)"
        where.append(after_cursor(expr, query.descending, f"(SELECT {key})", row_id))
    sql = (
        f"SELECT {TODO_COLUMNS} FROM todos WHERE {' AND '.join(where)}"
        f" ORDER BY {page_order(expr, query.descending)} LIMIT {arg(query.limit + 1)}"
    )
    return sql, args
