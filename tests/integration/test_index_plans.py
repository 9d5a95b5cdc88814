"""Every statement the PostgreSQL repositories send is served by an index, on a seeded database.

The statements are not written here: the real repositories run their operations against a
database seeded with COPY (120,000 todos: one heavy user with a 4,000-todo list, 3 % of the
rows as 100,000 of 5 M would be 2 %, and 2,000 ordinary users with 58 each; ``ANALYZE``d), and
every statement they send is recorded with its arguments and then explained with those same
arguments. No planner switch is touched: the plans are the ones production gets from real
statistics. A sequential scan of a table, or a sort of the heavy user's list for a page, fails
the test (the plan is printed).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from tests.pg import require_postgres, run_sync
from todostack.adapters.postgres import PostgresDatabase
from todostack.adapters.postgres.migrate import migrate_postgres
from todostack.adapters.postgres.repositories import PgLists, PgUsers
from todostack.adapters.postgres.todos import TODO_COUNT, PgTodos, search_statement
from todostack.bench.bulk import BulkFacts, bulk_seed
from todostack.domain import Priority, Todo
from todostack.usecases.queries import Cursor, SortField, TodoFilter, TodoQuery, sort_key

SCANS_OK = {"Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Bitmap Index Scan"}


class Recorder:
    """``TimedConnection``'s four calls, run for real and recorded (query, arguments)."""

    def __init__(self, raw: asyncpg.Connection[Any]) -> None:
        self.raw = raw
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, query: str, *args: Any) -> str:
        self.statements.append((query, args))
        result: str = await self.raw.execute(query, *args)
        return result

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.statements.append((query, args))
        return await self.raw.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        self.statements.append((query, args))
        return await self.raw.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.statements.append((query, args))
        return await self.raw.fetchval(query, *args)

    def searches(self) -> list[tuple[str, tuple[Any, ...]]]:
        """The statements but the owner's count, which a tag or text search reads first."""
        return [(query, args) for query, args in self.statements if query != TODO_COUNT]


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[str, BulkFacts]]:
    admin = require_postgres()
    name = f"ts_plans_{uuid.uuid4().hex[:10]}"
    run_sync(_execute(admin, f"CREATE DATABASE {name}"))
    url = f"{admin.rsplit('/', 1)[0]}/{name}"

    async def seed() -> BulkFacts:
        await migrate_postgres(url)
        conn = await asyncpg.connect(url)
        try:  # no text codec for uuid here: COPY sends binary
            return await bulk_seed(conn, todos=120_000, heavy_todos=4_000, users=2_000, progress=None)
        finally:
            await conn.close()

    try:
        yield url, run_sync(seed())
    finally:
        run_sync(_execute(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
async def recorder(seeded: tuple[str, BulkFacts]) -> AsyncIterator[Recorder]:
    conn = await asyncpg.connect(seeded[0])
    await conn.set_type_codec("uuid", encoder=str, decoder=str, schema="pg_catalog", format="text")
    tx = conn.transaction()
    await tx.start()
    try:
        yield Recorder(conn)
    finally:
        await tx.rollback()  # the writes were real: nothing of them stays
        await conn.close()


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def _problems(rec: Recorder, *, no_sort: bool = False) -> list[str]:
    problems = []
    for query, args in rec.statements:
        [explained] = json.loads(await rec.raw.fetchval(f"EXPLAIN (FORMAT JSON) {query}", *args))
        for node in _nodes(explained["Plan"]):
            kind = node["Node Type"]
            table_scan = "Relation Name" in node and kind != "ModifyTable"
            if (table_scan and kind not in SCANS_OK) or (no_sort and kind == "Sort"):
                problems.append(f"{kind} on {node.get('Relation Name', '?')} in\n  {query}\n  {json.dumps(explained)}")
    return problems


def _query(owner: str, *, sort: SortField = SortField.ORDER, descending: bool = False, **f: Any) -> TodoQuery:
    return TodoQuery(owner, TodoFilter(**f), sort, descending, 50, None)


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("sort", list(SortField), ids=[s.value for s in SortField])
async def test_the_heavy_users_list_pages_are_read_in_index_order(
    recorder: Recorder, seeded: tuple[str, BulkFacts], sort: SortField, descending: bool
) -> None:
    facts = seeded[1]
    todos = PgTodos(recorder)  # type: ignore[arg-type]
    query = _query(facts.heavy_owner, sort=sort, descending=descending, list_id=facts.heavy_list)
    for _ in range(50):  # first page, then 50 pages deep by cursor
        page = await todos.search(query)
        last = page[-2]  # the repository reads one more than the limit
        cursor = Cursor(sort, descending, sort_key(last, sort), last.id)
        query = TodoQuery(query.owner_id, query.filter, sort, descending, 50, cursor)
    owner_wide = _query(facts.heavy_owner, sort=sort, descending=descending)
    await todos.search(owner_wide)
    assert await _problems(recorder, no_sort=True) == []


async def test_searches_use_indexes(recorder: Recorder, seeded: tuple[str, BulkFacts]) -> None:
    facts = seeded[1]
    todos = PgTodos(recorder)  # type: ignore[arg-type]
    ordinary = facts.owners[0][0]
    soon = datetime(2026, 3, 1, tzinfo=UTC)
    for owner in (facts.heavy_owner, ordinary):
        for f in (
            {"tag": "urgent"},
            {"tag": "blocked", "list_id": facts.heavy_list},
            {"due_before": soon},
            {"due_after": soon, "completed": False},
            {"text": "passport"},
            {"text": "no such words anywhere"},
            {"completed": True, "list_id": facts.heavy_list},
        ):
            await todos.search(_query(owner, **f))
    assert await _problems(recorder) == []


def _rows_read(plan: dict[str, Any]) -> int:
    """The most rows any one scan of the plan read (kept, filtered out or rechecked away)."""
    keys = ("Actual Rows", "Rows Removed by Filter", "Rows Removed by Index Recheck")
    return max(sum(int(node.get(k, 0)) for k in keys) for node in _nodes(plan) if "Scan" in node["Node Type"])


@pytest.mark.parametrize(
    "found",
    [TodoFilter(text="pay pay"), TodoFilter(text="visa 1"), TodoFilter(tag="bug"), TodoFilter(tag="blocked")],
    ids=["pay-pay", "visa-1", "bug", "blocked"],
)
async def test_a_search_reads_no_more_rows_than_its_owner_has(
    recorder: Recorder, seeded: tuple[str, BulkFacts], found: TodoFilter
) -> None:
    # Texts and tags the planner expects to be rare: an index over every user's rows would read
    # all of their candidates (at 5 M rows, 374,264 for "pay pay"; PostgreSQL migration 0041).
    facts = seeded[1]
    todos = PgTodos(recorder)  # type: ignore[arg-type]
    owners = (facts.heavy_owner, facts.owners[0][0])
    for owner in owners:
        await todos.search(TodoQuery(owner, found, SortField.ORDER, False, 50, None))
    for (query, args), owner in zip(recorder.searches(), owners, strict=True):
        held = await recorder.raw.fetchval("SELECT count(*) FROM todos WHERE owner_id = $1", owner)
        [explained] = json.loads(await recorder.raw.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}", *args))
        assert _rows_read(explained["Plan"]) <= held, json.dumps(explained)


def _gin_scans(plan: dict[str, Any]) -> list[str]:
    """The owner-first GIN indexes (tags, text) the plan reads."""
    gin = ("todos_owner_tags_idx", "todos_owner_text_idx")
    return [n["Index Name"] for n in _nodes(plan) if n["Node Type"] == "Bitmap Index Scan" and n["Index Name"] in gin]


@pytest.mark.parametrize(
    "found",
    [TodoFilter(text="pay pay"), TodoFilter(text="passport"), TodoFilter(tag="bug"), TodoFilter(tag="urgent")],
    ids=["pay-pay", "passport", "bug", "urgent"],
)
async def test_a_small_owners_tag_and_text_searches_walk_its_todos(
    recorder: Recorder, seeded: tuple[str, BulkFacts], found: TodoFilter
) -> None:
    # The owner-first GIN indexes decode the posting lists of every user's rows near the owner's:
    # at 5 M rows that cost the database twice the CPU of walking a 200-todo owner's rows, and
    # the search scenario its p99 (docs/benchmarks.md, "Small owners walk their todos"). Rare
    # texts and tags are the ones the planner sends to those indexes.
    owner = seeded[1].owners[0][0]  # 58 todos
    await PgTodos(recorder).search(TodoQuery(owner, found, SortField.ORDER, False, 50, None))  # type: ignore[arg-type]
    [(query, args)] = recorder.searches()
    [explained] = json.loads(await recorder.raw.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}", *args))
    held = await recorder.raw.fetchval("SELECT count(*) FROM todos WHERE owner_id = $1", owner)
    assert _gin_scans(explained["Plan"]) == [], json.dumps(explained)
    assert _rows_read(explained["Plan"]) <= held, json.dumps(explained)


async def test_the_heavy_owners_rare_text_still_asks_the_index(
    recorder: Recorder, seeded: tuple[str, BulkFacts]
) -> None:
    query = TodoQuery(seeded[1].heavy_owner, TodoFilter(text="pay pay"), SortField.ORDER, False, 50, None)
    await PgTodos(recorder).search(query)  # type: ignore[arg-type]
    [(sql, args)] = recorder.searches()
    [explained] = json.loads(await recorder.raw.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args))
    assert _gin_scans(explained["Plan"]) == ["todos_owner_text_idx"], json.dumps(explained)


_ODD_TITLES = ("50% off", "snake_case name", r"back\slash", "STRASSE Straße", "İstanbul trip", "ǅemal", "naïve café")
_ODD_TEXTS = (
    "50%",
    "%",
    "_",
    "e_c",
    "\\",
    "\\s",
    "straße",
    "strasse",
    "STRASSE",
    "istanbul",
    "İstanbul",
    "ǆ",
    "ǅ",
    "CAFÉ",
    "ïve",
    "pay",
    "PAY pay",
    "zzzz",
)


async def test_the_walk_and_the_index_find_the_same_todos(recorder: Recorder, seeded: tuple[str, BulkFacts]) -> None:
    # ``walk`` writes the tag and text tests in forms no index serves: the same rows, whatever
    # the text (LIKE's own characters, case folding beyond ASCII).
    facts = seeded[1]
    owner, list_id = facts.owners[0]
    now = datetime.now(UTC)
    todos = PgTodos(recorder)  # type: ignore[arg-type]
    for i, title in enumerate(_ODD_TITLES):
        todo = Todo(
            str(uuid.uuid4()),
            owner,
            list_id,
            title,
            "notes ÉTÉ" if i % 2 else "",
            False,
            None,
            None,
            Priority.NONE,
            ("x_y", "50%", "Tag"),
            10_000 + i,
            now,
            now,
            1,
        )
        await todos.add(todo)
    filters = [TodoFilter(text=t) for t in (*_ODD_TEXTS, "été")] + [
        TodoFilter(tag=t) for t in ("x_y", "x%y", "50%", "Tag", "tag", "urgent")
    ]
    found = {}
    for who in (owner, facts.heavy_owner):
        for f in filters:
            query = TodoQuery(who, f, SortField.ORDER, False, 200, None)
            pages = []
            for walk in (False, True):
                sql, args = search_statement(query, walk=walk)
                pages.append([r["title"] for r in await recorder.raw.fetch(sql, *args)])
            assert pages[0] == pages[1], (who, f)
            found[who, f.text or f.tag] = pages[1]
    # Not equal by both finding nothing: the odd rows are found, and only where they match.
    assert found[owner, "straße"] == ["STRASSE Straße"]
    assert found[owner, "strasse"] == ["STRASSE Straße"]
    assert found[owner, "%"] == ["50% off"]
    assert found[owner, "e_c"] == ["snake_case name"]
    assert found[owner, "\\"] == ["back\\slash"]
    assert found[owner, "CAFÉ"] == ["naïve café"]
    assert len(found[owner, "été"]) == 3  # the notes of the odd rows 1, 3 and 5
    assert len(found[owner, "x_y"]) == len(_ODD_TITLES)
    assert found[owner, "x%y"] == found[owner, "tag"] == []  # tags match whole and exactly
    assert found[facts.heavy_owner, "x_y"] == []


_EARLY, _LATE = datetime(2025, 12, 25, tzinfo=UTC), datetime(2027, 9, 15, tzinfo=UTC)  # 7 and 22 of 4,000


@pytest.mark.parametrize("found", [TodoFilter(due_before=_EARLY), TodoFilter(due_after=_LATE)], ids=["early", "late"])
async def test_a_date_few_todos_pass_is_a_range_of_the_due_index(
    recorder: Recorder, seeded: tuple[str, BulkFacts], found: TodoFilter
) -> None:
    # Before, the heavy user's 4,000 rows were all read to keep a handful (at 5 M rows, all
    # 100,000: 2,320 buffers against 24).
    query = TodoQuery(seeded[1].heavy_owner, found, SortField.ORDER, False, 50, None)
    page = await PgTodos(recorder).search(query)  # type: ignore[arg-type]
    [(sql, args)] = recorder.statements
    [explained] = json.loads(await recorder.raw.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args))
    assert 0 < len(page) < 51
    assert _rows_read(explained["Plan"]) <= 2 * len(page), json.dumps(explained)


async def test_reads_and_writes_by_id_use_indexes(recorder: Recorder, seeded: tuple[str, BulkFacts]) -> None:
    facts = seeded[1]
    users, lists, todos = PgUsers(recorder), PgLists(recorder), PgTodos(recorder)  # type: ignore[arg-type]
    owner, todo_id = facts.todo_ids[0]
    heavy = facts.heavy_owner
    await users.get(heavy)
    await users.get_by_email("nobody@example.invalid")
    await lists.get(heavy, facts.heavy_list)
    await lists.get(heavy, facts.heavy_list, for_update=True)
    await lists.oldest(heavy)
    await lists.list_for_owner(heavy)
    todo = await todos.get(owner, todo_id)
    assert todo is not None
    await todos.get(owner, todo_id, for_update=True)
    await todos.update_if(todo, version=todo.version)
    await todos.count_in_list(heavy, facts.heavy_list)
    await todos.max_order(heavy, facts.heavy_list)
    now = datetime.now(UTC)
    new = Todo(
        str(uuid.uuid4()), heavy, facts.heavy_list, "t", "", False, None, None, Priority.NONE, (), 0, now, now, 1
    )
    await todos.place(new, list_id=facts.heavy_list, order=None)
    await todos.place(replace(new, id=str(uuid.uuid4())), list_id=None, order=None)
    await todos.delete(owner, todo_id)
    ordinary, ordinary_list = facts.owners[1]
    await todos.complete_all(ordinary, ordinary_list, now)
    await todos.clear_completed(ordinary, ordinary_list)
    assert await _problems(recorder) == []


async def test_the_todo_quota_reads_one_counter_row(recorder: Recorder, seeded: tuple[str, BulkFacts]) -> None:
    await PgTodos(recorder).count_for_owner(seeded[1].heavy_owner, 10_000)  # type: ignore[arg-type]
    [(query, args)] = recorder.statements
    [explained] = json.loads(await recorder.raw.fetchval(f"EXPLAIN (FORMAT JSON) {query}", *args))
    read = {(n["Node Type"] in SCANS_OK, n["Relation Name"]) for n in _nodes(explained["Plan"]) if "Relation Name" in n}
    assert read == {(True, "todo_counts")}, json.dumps(explained)  # through its key, never a walk of todos


@pytest.mark.parametrize(("asked", "shown"), [("auto", "auto"), ("force_custom_plan", "force_custom_plan")])
async def test_the_plan_cache_mode_reaches_the_services_connections(
    seeded: tuple[str, BulkFacts], asked: str, shown: str
) -> None:
    # asyncpg's named statements go generic after five runs, and at 5 M rows the generic plan of
    # the heavy list's first page sorts the whole list (47 ms against 0.4 ms, measured in
    # docs/benchmarks.md; 120,000 rows are too few for the planner to make that choice here, so
    # this pins the setting, and the plan checks above pin the plans it keeps). It costs every
    # statement a planning, so it is TODOSTACK_DB_PLAN_CACHE_MODE's choice, not the default.
    db = await PostgresDatabase.connect(seeded[0], min_size=1, max_size=1, plan_cache_mode=asked)
    try:
        async with db() as uow:
            assert await uow.connection.fetchval("SHOW plan_cache_mode") == shown
    finally:
        await db.close()
