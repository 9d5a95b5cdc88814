"""Per-account quotas on lists and todos, and lists in pages, through the use cases."""

from __future__ import annotations

import pytest

from tests.fakes import World
from todostack.domain import Conflict, Invalid, Principal, QuotaExceeded
from todostack.usecases import ListService, NewList, NewTodo, TodoFilter, TodoService
from todostack.usecases.quotas import Quotas
from todostack.usecases.todobackend import TodoBackendService


def _world(quotas: Quotas) -> World:
    world = World()
    world.lists = ListService(world.db, world.clock, world.ids, quotas)
    world.todos = TodoService(world.db, world.clock, world.ids, quotas)
    return world


async def _member(world: World) -> Principal:
    user = (await world.auth.register(f"{world.ids()}@example.com", "a long passphrase")).value
    return Principal(user.id)


async def test_an_account_holds_at_most_its_quota_of_lists() -> None:
    world = _world(Quotas(lists=3))
    me, other = await _member(world), await _member(world)
    for n in range(2):  # registration made the inbox: 3 in all
        await world.lists.create(me, NewList(f"list {n}"))
    with pytest.raises(QuotaExceeded) as refused:
        await world.lists.create(me, NewList("one too many"))
    assert (refused.value.resource, refused.value.limit) == ("lists", 3)
    assert "at most 3 lists" in refused.value.detail
    await world.lists.create(other, NewList("someone else's"))  # the quota is per account


async def test_an_account_holds_at_most_its_quota_of_todos_in_all_its_lists() -> None:
    world = _world(Quotas(todos=3))
    me = await _member(world)
    second = (await world.lists.create(me, NewList("second"))).value
    await world.todos.create(me, NewTodo(title="a"))
    await world.todos.create(me, NewTodo(title="b", list_id=second.id))
    await world.todos.create(me, NewTodo(title="c"), idempotency_key="k1")
    for attempt in (NewTodo(title="d"), NewTodo(title="d", list_id=second.id)):
        with pytest.raises(QuotaExceeded):
            await world.todos.create(me, attempt)
    with pytest.raises(QuotaExceeded):
        await world.todos.create(me, NewTodo(title="d"), idempotency_key="k2")
    replayed = await world.todos.create(me, NewTodo(title="c"), idempotency_key="k1")
    assert replayed.replayed  # a replay is no new todo: not refused
    todo = (await world.todos.search(me, TodoFilter())).items[0]
    await world.todos.delete(me, todo.id)
    await world.todos.create(me, NewTodo(title="room again"))


async def test_a_create_within_the_quota_is_one_write_that_reads_the_count_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The insert compares the owner's count with the quota (``TodoRepository.place``'s ``below``):
    # no separate count before it, one round trip to the database instead of two.
    from todostack.adapters.memory.repositories import MemoryTodos

    world = _world(Quotas(todos=2))
    me = await _member(world)
    counted: list[str] = []

    async def count_for_owner(self: MemoryTodos, owner_id: str, up_to: int) -> int:
        counted.append(owner_id)
        return min(up_to, self._t.todo_counts.get(owner_id, 0))

    monkeypatch.setattr(MemoryTodos, "count_for_owner", count_for_owner)
    for title in ("a", "b"):
        await world.todos.create(me, NewTodo(title=title))
    assert counted == []
    with pytest.raises(QuotaExceeded):  # refused by the insert, then told apart by the count
        await world.todos.create(me, NewTodo(title="c"))
    assert counted == [me.user_id]
    assert [t.title for t in (await world.todos.search(me, TodoFilter())).items] == ["a", "b"]


async def test_the_demo_list_has_its_cap_not_the_account_quota() -> None:
    world = _world(Quotas(todos=1))
    demo = TodoBackendService(world.db, world.todos, world.clock, capacity=3)
    for n in range(3):
        await demo.create(f"demo {n}", completed=False, order=None)
    with pytest.raises(Conflict):
        await demo.create("over the cap", completed=False, order=None)


async def test_lists_come_in_pages_that_end() -> None:
    world = _world(Quotas())
    me = await _member(world)
    for n in range(4):
        world.clock.advance(1)
        await world.lists.create(me, NewList(f"list {n}"))
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await world.lists.page(me, limit=2, cursor=cursor)
        seen += [lst.name for lst in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["Inbox", "list 0", "list 1", "list 2", "list 3"]
    assert pages == 3
    assert (await world.lists.page(me, limit=500)).next_cursor is None


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        "bm90IGpzb24",  # not json
        "WyJub3QgYSBkYXRlIiwieCJd",  # ["not a date","x"]
        "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwieCJd",  # a date-time without its offset
        "WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwieHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eCJd",  # long id
    ],
    ids=["not-base64", "not-json", "not-a-date", "naive-date", "long-id"],
)
async def test_a_cursor_not_made_here_is_refused(cursor: str) -> None:
    world = _world(Quotas())
    me = await _member(world)
    with pytest.raises(Invalid) as refused:
        await world.lists.page(me, limit=2, cursor=cursor)
    assert refused.value.errors[0].field == "cursor"
