"""ONE contract for every storage adapter: in-memory, SQLite (file and :memory:) and PostgreSQL.

Tests talk to the ports only and never look at SQL.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes import T0, FakeClock, SequentialIds
from todostack.bootstrap import Storage
from todostack.domain import Change, Conflict, NotFound, Priority, Todo, TodoList, User
from todostack.usecases.queries import Cursor, SortField, TodoFilter, TodoQuery, sort_key


async def _user(storage: Storage, ids: SequentialIds) -> tuple[User, TodoList]:
    user = User(ids(), f"{ids()}@example.com", "hash", T0)
    todo_list = TodoList(ids(), user.id, "Inbox", T0, T0)
    async with storage.uow(write=True) as uow:
        await uow.users.add(user)
        await uow.lists.add(todo_list)
        await uow.commit()
    return user, todo_list


def _todo(ids: SequentialIds, user: User, todo_list: TodoList, **kw: object) -> Todo:
    fields: dict[str, object] = {
        "id": ids(),
        "owner_id": user.id,
        "list_id": todo_list.id,
        "title": "t",
        "notes": "",
        "completed": False,
        "completed_at": None,
        "due": None,
        "priority": Priority.NONE,
        "tags": (),
        "order": 0,
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(kw)
    return Todo(**fields)  # type: ignore[arg-type]


async def _add(storage: Storage, *todos: Todo) -> None:
    async with storage.uow(write=True) as uow:
        for todo in todos:
            await uow.todos.add(todo)
        await uow.commit()


async def test_users_round_trip_and_unique_email(storage: Storage, ids: SequentialIds) -> None:
    user, _ = await _user(storage, ids)
    async with storage.uow() as uow:
        assert await uow.users.get(user.id) == user
        assert await uow.users.get_by_email(user.email) == user
        assert await uow.users.get(ids()) is None
    with pytest.raises(Conflict):
        async with storage.uow(write=True) as uow:
            await uow.users.add(replace(user, id=ids()))


async def test_todo_round_trip_keeps_every_field(storage: Storage, ids: SequentialIds) -> None:
    user, todo_list = await _user(storage, ids)
    todo = _todo(
        ids,
        user,
        todo_list,
        title="ünïcode ✓",
        notes="line\nbreak",
        completed=True,
        completed_at=T0 + timedelta(microseconds=123456),
        due=T0 + timedelta(days=3),
        priority=Priority.HIGH,
        tags=("a", "b c", "ß"),
        order=-(2**53 - 1),
        version=7,
    )
    await _add(storage, todo)
    async with storage.uow() as uow:
        assert await uow.todos.get(user.id, todo.id) == todo


async def test_everything_is_scoped_to_its_owner(storage: Storage, ids: SequentialIds) -> None:
    alice, alices = await _user(storage, ids)
    bob, _ = await _user(storage, ids)
    todo = _todo(ids, alice, alices)
    await _add(storage, todo)
    async with storage.uow(write=True) as uow:
        assert await uow.todos.get(bob.id, todo.id) is None
        assert await uow.lists.get(bob.id, alices.id) is None
        assert await uow.lists.list_for_owner(bob.id) != await uow.lists.list_for_owner(alice.id)
        await uow.todos.delete(bob.id, todo.id)
        await uow.lists.delete(bob.id, alices.id)
        query = TodoQuery(bob.id, TodoFilter(), SortField.ORDER, False, 50, None)
        assert await uow.todos.search(query) == []
        await uow.commit()
    async with storage.uow() as uow:
        assert await uow.todos.get(alice.id, todo.id) == todo


async def test_uncommitted_writes_roll_back(storage: Storage, ids: SequentialIds) -> None:
    user, todo_list = await _user(storage, ids)
    todo = _todo(ids, user, todo_list)
    async with storage.uow(write=True) as uow:
        await uow.todos.add(todo)

    async def fail_midway() -> None:
        async with storage.uow(write=True) as uow:
            await uow.todos.add(_todo(ids, user, todo_list))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail_midway()
    async with storage.uow() as uow:
        assert await uow.todos.get(user.id, todo.id) is None
        assert await uow.todos.count_in_list(user.id, todo_list.id) == 0


async def test_update_delete_and_list_cascade(storage: Storage, ids: SequentialIds) -> None:
    user, todo_list = await _user(storage, ids)
    todo = _todo(ids, user, todo_list)
    await _add(storage, todo)
    changed = replace(todo, title="new", tags=("x",), version=2)
    async with storage.uow(write=True) as uow:
        await uow.todos.update(changed)
        renamed = replace(todo_list, name="Renamed", version=2)
        await uow.lists.update(renamed)
        await uow.commit()
    async with storage.uow(write=True) as uow:
        assert await uow.todos.get(user.id, todo.id) == changed
        assert await uow.lists.get(user.id, todo_list.id) == renamed
        await uow.lists.delete(user.id, todo_list.id)
        await uow.commit()
    async with storage.uow() as uow:
        assert await uow.todos.get(user.id, todo.id) is None
        assert await uow.lists.oldest(user.id) is None


async def test_bulk_operations(storage: Storage, ids: SequentialIds) -> None:
    user, todo_list = await _user(storage, ids)
    todos = [
        _todo(ids, user, todo_list, order=i, completed=i == 0, completed_at=T0 if i == 0 else None) for i in range(4)
    ]
    await _add(storage, *todos)
    later = T0 + timedelta(hours=1)
    async with storage.uow(write=True) as uow:
        assert await uow.todos.max_order(user.id, todo_list.id) == 3
        assert await uow.todos.complete_all(user.id, todo_list.id, later) == 3
        await uow.commit()
    async with storage.uow(write=True) as uow:
        assert (await uow.todos.get(user.id, todos[1].id)) == replace(
            todos[1], completed=True, completed_at=later, updated_at=later, version=2
        )
        assert (await uow.todos.get(user.id, todos[0].id)) == todos[0]
        assert await uow.todos.clear_completed(user.id, todo_list.id) == 4
        await uow.commit()
    async with storage.uow() as uow:
        assert await uow.todos.count_in_list(user.id, todo_list.id) == 0
        assert await uow.todos.max_order(user.id, todo_list.id) is None


async def _place(
    storage: Storage, todo: Todo, *, list_id: str | None, order: int | None = None, autocommit: bool = True
) -> Todo | None:
    async with storage.uow(write=True, autocommit=autocommit) as uow:
        placed = await uow.todos.place(todo, list_id=list_id, order=order)
        await uow.commit()
    return placed


async def test_place_appends_to_the_named_list_and_stores_every_field(storage: Storage, ids: SequentialIds) -> None:
    user, todo_list = await _user(storage, ids)
    draft = _todo(
        ids, user, todo_list, list_id="", order=99, title="ünïcode", tags=("a", "ß"), priority=Priority.HIGH,
        due=T0 + timedelta(days=2), completed=True, completed_at=T0,
    )  # fmt: skip
    first = await _place(storage, draft, list_id=todo_list.id)
    assert first is not None
    assert first == replace(draft, list_id=todo_list.id, order=0)
    await _add(storage, _todo(ids, user, todo_list, order=41))
    second = await _place(storage, _todo(ids, user, todo_list, list_id=""), list_id=todo_list.id)
    assert second is not None
    assert (second.list_id, second.order) == (todo_list.id, 42)
    chosen = await _place(storage, _todo(ids, user, todo_list), list_id=todo_list.id, order=7)
    assert chosen is not None
    assert chosen.order == 7
    async with storage.uow() as uow:
        assert await uow.todos.get(user.id, first.id) == first
        assert await uow.todos.get(user.id, second.id) == second
        assert await uow.todos.count_in_list(user.id, todo_list.id) == 4


async def test_place_without_a_list_uses_the_oldest(storage: Storage, ids: SequentialIds) -> None:
    user, inbox = await _user(storage, ids)
    newer = TodoList(ids(), user.id, "Later", T0 + timedelta(seconds=1), T0 + timedelta(seconds=1))
    async with storage.uow(write=True) as uow:
        await uow.lists.add(newer)
        await uow.commit()
    await _add(storage, _todo(ids, user, newer, order=5))
    placed = await _place(storage, _todo(ids, user, newer), list_id=None, autocommit=False)
    assert placed is not None
    assert (placed.list_id, placed.order) == (inbox.id, 0)
    async with storage.uow() as uow:
        assert await uow.todos.get(user.id, placed.id) == placed


async def test_place_writes_nothing_without_a_list_of_the_owners(storage: Storage, ids: SequentialIds) -> None:
    alice, alices = await _user(storage, ids)
    bob = User(ids(), f"{ids()}@example.com", "hash", T0)
    async with storage.uow(write=True) as uow:
        await uow.users.add(bob)
        await uow.commit()
    assert await _place(storage, _todo(ids, bob, alices), list_id=alices.id) is None
    assert await _place(storage, _todo(ids, bob, alices), list_id=None) is None
    assert await _place(storage, _todo(ids, alice, alices), list_id=ids()) is None
    async with storage.uow() as uow:
        assert await uow.todos.count_in_list(alice.id, alices.id) == 0
        assert await uow.todos.count_in_list(bob.id, alices.id) == 0


async def test_place_refuses_a_taken_id(storage: Storage, ids: SequentialIds) -> None:
    user, todo_list = await _user(storage, ids)
    todo = _todo(ids, user, todo_list)
    await _add(storage, todo)
    with pytest.raises(Conflict):
        await _place(storage, replace(todo, title="again"), list_id=todo_list.id)
    async with storage.uow() as uow:
        assert await uow.todos.get(user.id, todo.id) == todo


async def _update_if(storage: Storage, todo: Todo, version: int) -> bool:
    async with storage.uow(write=True, autocommit=True) as uow:
        stored = await uow.todos.update_if(todo, version=version)
        await uow.commit()
    return stored


async def test_update_if_stores_only_over_the_version_it_was_given(storage: Storage, ids: SequentialIds) -> None:
    user, todo_list = await _user(storage, ids)
    other = TodoList(ids(), user.id, "Other", T0, T0)
    async with storage.uow(write=True) as uow:
        await uow.lists.add(other)
        await uow.commit()
    todo = _todo(ids, user, todo_list)
    await _add(storage, todo)
    second = replace(todo, title="second", list_id=other.id, tags=("x",), version=2)
    assert await _update_if(storage, second, 1) is True
    # A writer that read version 1 too has lost the race: nothing of it is stored.
    assert await _update_if(storage, replace(todo, title="stale", version=2), 1) is False
    async with storage.uow() as uow:
        assert await uow.todos.get(user.id, todo.id) == second
    # Someone else's todo, or a deleted one, is never matched.
    mallory, _ = await _user(storage, ids)
    assert await _update_if(storage, replace(second, owner_id=mallory.id, version=3), 2) is False
    async with storage.uow(write=True) as uow:
        await uow.todos.delete(user.id, todo.id)
        await uow.commit()
    assert await _update_if(storage, replace(second, version=3), 2) is False
    async with storage.uow() as uow:
        assert await uow.todos.get(user.id, todo.id) is None


async def test_update_if_into_a_deleted_list_is_not_found(storage: Storage, ids: SequentialIds) -> None:
    user, todo_list = await _user(storage, ids)
    todo = _todo(ids, user, todo_list)
    await _add(storage, todo)
    with pytest.raises(NotFound):
        await _update_if(storage, replace(todo, list_id=ids(), version=2), 1)
    async with storage.uow() as uow:
        assert await uow.todos.get(user.id, todo.id) == todo


@pytest.fixture
async def catalogue(storage: Storage, ids: SequentialIds) -> tuple[Storage, User, TodoList, list[Todo]]:
    user, todo_list = await _user(storage, ids)
    other_list = TodoList(ids(), user.id, "Other", T0, T0)
    async with storage.uow(write=True) as uow:
        await uow.lists.add(other_list)
        await uow.commit()
    rows = []
    for i in range(12):
        rows.append(
            _todo(
                ids,
                user,
                todo_list if i % 4 else other_list,
                title=f"item {i} {'Needle' if i % 5 == 0 else ''}",
                notes="50% off_sale" if i == 7 else "",
                completed=i % 3 == 0,
                completed_at=T0 if i % 3 == 0 else None,
                due=None if i % 4 == 1 else T0 + timedelta(days=i % 5),
                priority=Priority.from_rank(i % 4),
                tags=("even",) if i % 2 == 0 else ("odd", "x"),
                order=(i * 7) % 5,
                created_at=T0 + timedelta(minutes=i % 3),
            )
        )
    await _add(storage, *rows)
    return storage, user, todo_list, rows


_FILTERS = {
    "none": TodoFilter(),
    "completed": TodoFilter(completed=True),
    "open": TodoFilter(completed=False),
    "tag": TodoFilter(tag="odd"),
    "text-case-insensitive": TodoFilter(text="needle"),
    "text-like-metacharacters": TodoFilter(text="50% off_"),
    "text-percent-literal": TodoFilter(text="%"),
    "due-before": TodoFilter(due_before=T0 + timedelta(days=2)),
    "due-after": TodoFilter(due_after=T0 + timedelta(days=2)),
    "combined": TodoFilter(completed=False, tag="even", due_after=T0 - timedelta(days=1)),
}


@pytest.mark.parametrize("name", list(_FILTERS), ids=list(_FILTERS))
@pytest.mark.parametrize("sort", list(SortField), ids=[s.value for s in SortField])
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
async def test_search_matches_the_reference_order_page_by_page(
    catalogue: tuple[Storage, User, TodoList, list[Todo]], name: str, sort: SortField, descending: bool
) -> None:
    storage, user, _, rows = catalogue
    todo_filter = _FILTERS[name]
    expected = _reference(rows, todo_filter, sort, descending)
    got: list[Todo] = []
    after: Cursor | None = None
    for _ in range(20):
        async with storage.uow() as uow:
            page = await uow.todos.search(TodoQuery(user.id, todo_filter, sort, descending, 5, after))
        got.extend(page[:5])
        if len(page) <= 5:
            break
        last = page[4]
        after = Cursor(sort, descending, sort_key(last, sort), last.id)
    assert [t.id for t in got] == [t.id for t in expected]


def _reference(rows: list[Todo], f: TodoFilter, sort: SortField, descending: bool) -> list[Todo]:
    """The specification, written the slow and obvious way."""

    def keep(t: Todo) -> bool:
        return (
            (f.completed is None or t.completed == f.completed)
            and (f.tag is None or f.tag in t.tags)
            and (f.text is None or f.text.lower() in f"{t.title} {t.notes}".lower())
            and (f.due_before is None or (t.due is not None and t.due < f.due_before))
            and (f.due_after is None or (t.due is not None and t.due > f.due_after))
        )

    def key(t: Todo) -> tuple[object, ...]:
        k = sort_key(t, sort)
        return ((1, 0) if k is None else (0, k), t.id)

    return sorted([t for t in rows if keep(t)], key=key, reverse=descending)


async def test_search_by_list(catalogue: tuple[Storage, User, TodoList, list[Todo]]) -> None:
    storage, user, todo_list, rows = catalogue
    async with storage.uow() as uow:
        page = await uow.todos.search(
            TodoQuery(user.id, TodoFilter(list_id=todo_list.id), SortField.ORDER, False, 50, None)
        )
    assert {t.id for t in page} == {t.id for t in rows if t.list_id == todo_list.id}


async def test_idempotency_claim_then_replay(storage: Storage, ids: SequentialIds, clock: FakeClock) -> None:
    user, todo_list = await _user(storage, ids)
    todo = _todo(ids, user, todo_list)
    key = ids()
    async with storage.uow(write=True) as uow:
        assert await uow.idempotency.claim(user.id, key, "fp", clock()) is None
        await uow.todos.add(todo)
        await uow.idempotency.complete(user.id, key, todo)
        await uow.commit()
    async with storage.uow(write=True) as uow:
        prior = await uow.idempotency.claim(user.id, key, "fp2", clock())
    assert prior is not None
    assert (prior.fingerprint, prior.snapshot) == ("fp", todo)


async def test_concurrent_claims_of_one_key_create_once(storage: Storage, ids: SequentialIds, clock: FakeClock) -> None:
    user, todo_list = await _user(storage, ids)
    key = ids()

    async def attempt() -> bool:
        async with storage.uow(write=True) as uow:
            prior = await uow.idempotency.claim(user.id, key, "fp", clock())
            if prior is not None:
                return False
            todo = _todo(ids, user, todo_list)
            await uow.todos.add(todo)
            await asyncio.sleep(0.05)  # hold the claim while the others arrive
            await uow.idempotency.complete(user.id, key, todo)
            await uow.commit()
            return True

    results = await asyncio.gather(*(attempt() for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    async with storage.uow() as uow:
        assert await uow.todos.count_in_list(user.id, todo_list.id) == 1


async def test_lists_come_in_pages_oldest_first_with_ties_broken_by_id(storage: Storage, ids: SequentialIds) -> None:
    user, inbox = await _user(storage, ids)
    later = T0 + timedelta(minutes=1)
    # Two lists made in the same microsecond: the id decides, on every backend.
    made = [TodoList(ids(), user.id, f"l{n}", later if n < 2 else later + timedelta(minutes=n), T0) for n in range(4)]
    async with storage.uow(write=True) as uow:
        for todo_list in made:
            await uow.lists.add(todo_list)
        await uow.commit()
    everything = [inbox, *sorted(made, key=lambda lst: (lst.created_at, lst.id))]
    other, others = await _user(storage, ids)
    async with storage.uow() as uow:
        first = await uow.lists.page_for_owner(user.id, None, 2)
        second = await uow.lists.page_for_owner(user.id, (first[-1].created_at, first[-1].id), 2)
        third = await uow.lists.page_for_owner(user.id, (second[-1].created_at, second[-1].id), 2)
        assert await uow.lists.page_for_owner(user.id, (third[-1].created_at, third[-1].id), 2) == []
        assert await uow.lists.page_for_owner(other.id, None, 10) == [others]
    assert [*first, *second, *third] == everything


async def test_counts_for_an_owner_stop_at_the_bound(storage: Storage, ids: SequentialIds) -> None:
    user, inbox = await _user(storage, ids)
    other, others = await _user(storage, ids)
    extra = TodoList(ids(), user.id, "more", T0, T0)
    async with storage.uow(write=True) as uow:
        await uow.lists.add(extra)
        await uow.commit()
    await _add(storage, *(_todo(ids, user, lst, order=n) for n, lst in enumerate([inbox, extra, extra])))
    await _add(storage, _todo(ids, other, others))
    async with storage.uow() as uow:
        assert await uow.lists.count_for_owner(user.id, 100) == 2
        assert await uow.lists.count_for_owner(user.id, 1) == 1
        assert await uow.todos.count_for_owner(user.id, 100) == 3
        assert await uow.todos.count_for_owner(user.id, 2) == 2
        assert await uow.todos.count_for_owner(other.id, 100) == 1


# -- the change feed's outbox -------------------------------------------------------------------


async def _changes(storage: Storage, owner_id: str, after: int = 0) -> list[Change]:
    if storage.number_changes is not None:  # PostgreSQL: what a worker's listener does
        await storage.number_changes()
    async with storage.uow() as uow:
        return await uow.changes.since(owner_id, after, 1000)


def _shape(changes: list[Change]) -> list[tuple[str, str, int, str]]:
    return [(c.entity.value, c.entity_id, c.version, c.kind.value) for c in changes]


async def test_every_write_records_a_change_in_its_transaction(storage: Storage, ids: SequentialIds) -> None:
    user, todo_list = await _user(storage, ids)
    todo = _todo(ids, user, todo_list)
    await _add(storage, todo)
    async with storage.uow(write=True) as uow:
        placed = await uow.todos.place(_todo(ids, user, todo_list), list_id=None, order=None)
        assert placed is not None
        await uow.commit()
    async with storage.uow(write=True) as uow:
        assert await uow.todos.update_if(replace(todo, title="t2", version=2), version=1)
        await uow.commit()
    async with storage.uow(write=True) as uow:
        await uow.todos.update(replace(todo, title="t3", version=3))
        await uow.lists.update(replace(todo_list, name="Renamed", version=2))
        await uow.commit()
    async with storage.uow(write=True) as uow:
        await uow.todos.delete(user.id, todo.id)
        await uow.commit()
    async with storage.uow(write=True) as uow:  # never committed: no change either
        await uow.todos.add(_todo(ids, user, todo_list))

    changes = await _changes(storage, user.id)
    assert _shape(changes) == [
        ("list", todo_list.id, 1, "created"),
        ("todo", todo.id, 1, "created"),
        ("todo", placed.id, 1, "created"),
        ("todo", todo.id, 2, "updated"),
        ("todo", todo.id, 3, "updated"),
        ("list", todo_list.id, 2, "updated"),
        ("todo", todo.id, 3, "deleted"),
    ]
    assert [c.id for c in changes] == sorted({c.id for c in changes})  # unique and growing
    assert all(c.owner_id == user.id for c in changes)


async def test_bulk_writes_and_a_list_deletion_record_each_todo(storage: Storage, ids: SequentialIds) -> None:
    user, todo_list = await _user(storage, ids)
    first, second = _todo(ids, user, todo_list), _todo(ids, user, todo_list, order=1)
    await _add(storage, first, second)
    async with storage.uow(write=True) as uow:
        assert await uow.todos.complete_all(user.id, todo_list.id, T0) == 2
        await uow.commit()
    async with storage.uow(write=True) as uow:
        assert await uow.todos.clear_completed(user.id, todo_list.id) == 2
        await uow.commit()
    other = TodoList(ids(), user.id, "Other", T0, T0)
    third = _todo(ids, user, other)
    async with storage.uow(write=True) as uow:
        await uow.lists.add(other)
        await uow.todos.add(third)
        await uow.lists.delete(user.id, other.id)
        await uow.commit()
    shape = _shape(await _changes(storage, user.id))
    assert shape[3:5] == [("todo", first.id, 2, "updated"), ("todo", second.id, 2, "updated")]
    assert sorted(shape[5:7]) == sorted([("todo", first.id, 2, "deleted"), ("todo", second.id, 2, "deleted")])
    assert shape[7:9] == [("list", other.id, 1, "created"), ("todo", third.id, 1, "created")]
    # A cascade records its deletions in either order (PostgreSQL runs it after the list's row).
    assert sorted(shape[9:]) == [("list", other.id, 1, "deleted"), ("todo", third.id, 1, "deleted")]


async def test_changes_are_per_owner_and_recent_sees_everyone(storage: Storage, ids: SequentialIds) -> None:
    alice, alice_list = await _user(storage, ids)
    start = max((c.id for c in await _changes(storage, alice.id)), default=0)
    bob, bob_list = await _user(storage, ids)
    await _add(storage, _todo(ids, alice, alice_list), _todo(ids, bob, bob_list))
    mine = await _changes(storage, alice.id, start)
    assert [c.owner_id for c in mine] == [alice.id]
    theirs = await _changes(storage, bob.id)
    assert len(theirs) == 2
    async with storage.uow() as uow:
        everyone = await uow.changes.recent(start, 1000)
        latest = await uow.changes.latest()
    owners = [c.owner_id for c in everyone if c.owner_id in (alice.id, bob.id)]
    assert owners == [bob.id, alice.id, bob.id]
    assert latest >= everyone[-1].id
    # Paging: ``limit`` cuts, ``after`` resumes exactly.
    async with storage.uow() as uow:
        page = await uow.changes.since(bob.id, 0, 1)
        rest = await uow.changes.since(bob.id, page[0].id, 10)
    assert [c.id for c in page + rest] == [c.id for c in theirs]


async def test_pruning_raises_the_horizon_and_ids_never_go_back(storage: Storage, ids: SequentialIds) -> None:
    user, todo_list = await _user(storage, ids)
    await _add(storage, _todo(ids, user, todo_list))
    before = await _changes(storage, user.id)
    future = datetime.now(UTC) + timedelta(days=1)
    async with storage.uow(write=True) as uow:
        assert await uow.changes.prune(future, 1_000_000) >= len(before)
        await uow.commit()
    async with storage.uow() as uow:
        horizon = await uow.changes.horizon()
        latest = await uow.changes.latest()
    assert horizon >= before[-1].id
    assert latest >= before[-1].id
    assert await _changes(storage, user.id) == []
    await _add(storage, _todo(ids, user, todo_list))
    after = await _changes(storage, user.id)
    assert len(after) == 1
    assert after[0].id > latest
