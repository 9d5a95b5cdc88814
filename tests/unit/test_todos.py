"""Todo use cases against the in-memory database, with an injected clock and ids."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from tests.fakes import T0, World
from todostack.adapters.memory.repositories import MemoryTodos
from todostack.domain import Conflict, Invalid, NotFound, PreconditionFailed, Principal, Priority, Todo
from todostack.domain.errors import IdempotencyKeyReused
from todostack.usecases import NewList, NewTodo, TodoChanges, TodoFilter

# Valid RFC 3339 date-times whose UTC instant falls outside years 1-9999.
EARLIEST_PLUS_14 = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
LATEST_MINUS_14 = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14)))


@pytest.mark.parametrize(
    ("cmd", "bad_fields"),
    [
        (NewTodo(title="   "), {"title"}),
        (NewTodo(title="x" * 501), {"title"}),
        (NewTodo(title="ok", notes="n" * 10_001), {"notes"}),
        (NewTodo(title="ok", tags=tuple(f"t{i}" for i in range(21))), {"tags"}),
        (NewTodo(title="ok", tags=("x" * 41,)), {"tags"}),
        (NewTodo(title="ok", order=2**53), {"order"}),
        (NewTodo(title="", notes="n" * 10_001, tags=(" ",)), {"title", "notes", "tags"}),
        (NewTodo(title="ok", due=EARLIEST_PLUS_14), {"due"}),
        (NewTodo(title="ok", due=LATEST_MINUS_14), {"due"}),
    ],
    ids=[
        "blank-title",
        "long-title",
        "long-notes",
        "too-many-tags",
        "long-tag",
        "huge-order",
        "every-field-listed",
        "due-before-year-1-in-utc",
        "due-after-year-9999-in-utc",
    ],
)
async def test_create_rejects_bad_input_naming_every_field(
    world: World, alice: Principal, cmd: NewTodo, bad_fields: set[str]
) -> None:
    with pytest.raises(Invalid) as caught:
        await world.todos.create(alice, cmd)
    assert {e.field for e in caught.value.errors} == bad_fields


async def test_create_trims_dedupes_and_appends_to_the_inbox(world: World, alice: Principal) -> None:
    first = (await world.todos.create(alice, NewTodo(title="  milk  ", tags=(" a", "b", "a")))).value
    second = (await world.todos.create(alice, NewTodo(title="eggs"))).value
    inbox = (await world.lists.all(alice))[0]
    assert (first.title, first.tags, first.list_id) == ("milk", ("a", "b"), inbox.id)
    assert (first.order, second.order) == (0, 1)
    assert (first.created_at, first.version, first.completed_at) == (T0, 1, None)


async def test_naive_due_dates_are_taken_as_utc(world: World, alice: Principal) -> None:
    naive = T0.replace(tzinfo=None)
    todo = (await world.todos.create(alice, NewTodo(title="x", due=naive))).value
    assert todo.due == T0


@pytest.mark.parametrize(
    ("changes", "expect"),
    [
        (TodoChanges(title=" new "), {"title": "new"}),
        (TodoChanges(completed=True), {"completed": True, "completed_at": T0 + timedelta(seconds=5)}),
        (TodoChanges(priority=Priority.HIGH, tags=("x",)), {"priority": Priority.HIGH, "tags": ("x",)}),
        (TodoChanges(due=T0), {"due": T0}),
        (TodoChanges(order=42), {"order": 42}),
    ],
    ids=["title-trimmed", "complete-stamps-time", "priority-and-tags", "due", "order"],
)
async def test_patch_changes_only_what_was_sent(
    world: World, alice: Principal, changes: TodoChanges, expect: dict[str, object]
) -> None:
    todo = (await world.todos.create(alice, NewTodo(title="t", notes="keep"))).value
    world.clock.advance(5)
    updated = await world.todos.update(alice, todo.id, changes)
    for name, value in expect.items():
        assert getattr(updated, name) == value
    assert updated.notes == "keep"
    assert (updated.version, updated.updated_at) == (2, T0 + timedelta(seconds=5))


async def test_patch_that_changes_nothing_keeps_the_version(world: World, alice: Principal) -> None:
    todo = (await world.todos.create(alice, NewTodo(title="t"))).value
    same = await world.todos.update(alice, todo.id, TodoChanges(title="t", completed=False))
    assert same.version == 1


async def test_reopen_clears_completed_at_and_complete_keeps_first_time(world: World, alice: Principal) -> None:
    todo = (await world.todos.create(alice, NewTodo(title="t"))).value
    done = await world.todos.update(alice, todo.id, TodoChanges(completed=True))
    world.clock.advance(60)
    again = await world.todos.update(alice, todo.id, TodoChanges(completed=True, title="t2"))
    assert again.completed_at == done.completed_at == T0
    reopened = await world.todos.update(alice, todo.id, TodoChanges(completed=False))
    assert (reopened.completed, reopened.completed_at) == (False, None)


@pytest.mark.parametrize(
    ("expected", "ok"),
    [(None, True), (frozenset({1}), True), (frozenset({1, 7}), True), (frozenset({2}), False), (frozenset(), False)],
    ids=["no-if-match", "current", "one-of-several", "stale", "unparseable"],
)
async def test_if_match_preconditions(
    world: World, alice: Principal, expected: frozenset[int] | None, ok: bool
) -> None:
    todo = (await world.todos.create(alice, NewTodo(title="t"))).value
    if ok:
        assert (await world.todos.update(alice, todo.id, TodoChanges(title="u"), expected)).version == 2
    else:
        with pytest.raises(PreconditionFailed) as caught:
            await world.todos.update(alice, todo.id, TodoChanges(title="u"), expected)
        assert caught.value.current_version == 1
        assert (await world.todos.get(alice, todo.id)).title == "t"


class _Rival:
    """Lands a write of its own (to ``notes``, or a delete) just before each of the first ``times``
    optimistic stores, as another request would between the update's read and its store."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, times: int, *, deletes: bool = False) -> None:
        self.times, self.landed = times, 0
        original = MemoryTodos.update_if

        async def racing(repo: MemoryTodos, todo: Todo, *, version: int) -> bool:
            if self.landed < self.times:
                self.landed += 1
                if deletes:
                    await repo.delete(todo.owner_id, todo.id)
                else:
                    stored = await repo.get(todo.owner_id, todo.id)
                    assert stored is not None
                    await repo.update(replace(stored, notes=f"rival {self.landed}", version=stored.version + 1))
            return await original(repo, todo, version=version)

        monkeypatch.setattr(MemoryTodos, "update_if", racing)


@pytest.mark.parametrize(
    ("rivals", "landed", "version"),
    # One race: the update reads again. Races every time: after the optimistic tries (3; the last
    # attempt does not race) it takes the row lock.
    [(1, 1, 3), (100, 3, 5)],
    ids=["reads-again", "row-lock-after-three-races"],
)
async def test_a_write_between_read_and_store_is_kept_and_the_update_applied_over_it(
    world: World, alice: Principal, monkeypatch: pytest.MonkeyPatch, rivals: int, landed: int, version: int
) -> None:
    todo = (await world.todos.create(alice, NewTodo(title="t"))).value
    rival = _Rival(monkeypatch, times=rivals)
    updated = await world.todos.update(alice, todo.id, TodoChanges(title="mine"))
    assert rival.landed == landed
    # Neither write is lost: the update was applied over the rival's, not over what it first read.
    assert (updated.title, updated.notes, updated.version) == ("mine", f"rival {landed}", version)
    assert await world.todos.get(alice, todo.id) == updated


async def test_with_if_match_a_write_between_read_and_store_is_a_failed_precondition(
    world: World, alice: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    todo = (await world.todos.create(alice, NewTodo(title="t"))).value
    _Rival(monkeypatch, times=1)
    with pytest.raises(PreconditionFailed) as caught:
        await world.todos.update(alice, todo.id, TodoChanges(title="mine"), frozenset({1}))
    assert caught.value.current_version == 2
    stored = await world.todos.get(alice, todo.id)
    assert (stored.title, stored.notes) == ("t", "rival 1")


async def test_a_todo_deleted_between_read_and_store_is_not_found(
    world: World, alice: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    todo = (await world.todos.create(alice, NewTodo(title="t"))).value
    rival = _Rival(monkeypatch, times=1, deletes=True)
    with pytest.raises(NotFound):
        await world.todos.update(alice, todo.id, TodoChanges(title="mine"))
    assert rival.landed == 1


async def test_other_users_todos_are_not_found(world: World, alice: Principal, bob: Principal) -> None:
    todo = (await world.todos.create(alice, NewTodo(title="secret"))).value
    attempts = [
        world.todos.get(bob, todo.id),
        world.todos.update(bob, todo.id, TodoChanges(title="mine")),
        world.todos.delete(bob, todo.id),
        world.todos.update(bob, todo.id, TodoChanges(list_id=(await world.lists.all(bob))[0].id)),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound):
            await attempt
    bobs_list = (await world.lists.all(bob))[0]
    with pytest.raises(NotFound):
        await world.todos.update(alice, todo.id, TodoChanges(list_id=bobs_list.id))
    with pytest.raises(NotFound):
        await world.todos.create(alice, NewTodo(title="x", list_id=bobs_list.id))
    assert (await world.todos.get(alice, todo.id)).title == "secret"


async def test_move_between_own_lists(world: World, alice: Principal) -> None:
    work = (await world.lists.create(alice, NewList("Work"))).value
    todo = (await world.todos.create(alice, NewTodo(title="t"))).value
    moved = await world.todos.update(alice, todo.id, TodoChanges(list_id=work.id))
    assert moved.list_id == work.id
    page = await world.todos.search(alice, TodoFilter(list_id=work.id))
    assert [t.id for t in page.items] == [todo.id]


async def test_reorder_sets_positions_in_sequence(world: World, alice: Principal) -> None:
    inbox = (await world.lists.all(alice))[0]
    a, b, c = [(await world.todos.create(alice, NewTodo(title=n))).value for n in "abc"]
    result = await world.todos.reorder(alice, inbox.id, [c.id, a.id, b.id])
    assert [(t.title, t.order) for t in result] == [("c", 0), ("a", 1), ("b", 2)]
    page = await world.todos.search(alice, TodoFilter(list_id=inbox.id))
    assert [t.title for t in page.items] == ["c", "a", "b"]
    with pytest.raises(Invalid):
        await world.todos.reorder(alice, inbox.id, [a.id, a.id])


async def test_complete_all_and_clear_completed(world: World, alice: Principal) -> None:
    inbox = (await world.lists.all(alice))[0]
    for title in ("a", "b", "c"):
        await world.todos.create(alice, NewTodo(title=title))
    assert await world.lists.complete_all(alice, inbox.id) == 3
    assert await world.lists.complete_all(alice, inbox.id) == 0
    assert await world.lists.clear_completed(alice, inbox.id) == 3
    assert (await world.todos.search(alice, TodoFilter(list_id=inbox.id))).items == []


async def test_idempotent_create_replays_and_refuses_a_different_body(world: World, alice: Principal) -> None:
    first = await world.todos.create(alice, NewTodo(title="once"), "key-1")
    again = await world.todos.create(alice, NewTodo(title="once"), "key-1")
    assert (again.value, again.replayed, first.replayed) == (first.value, True, False)
    with pytest.raises(IdempotencyKeyReused):
        await world.todos.create(alice, NewTodo(title="different"), "key-1")
    page = await world.todos.search(alice, TodoFilter())
    assert len(page.items) == 1


async def test_replaying_a_create_whose_todo_was_deleted_is_a_conflict(world: World, alice: Principal) -> None:
    created = await world.todos.create(alice, NewTodo(title="gone"), "key-2")
    await world.todos.delete(alice, created.value.id)
    with pytest.raises(Conflict, match="deleted since"):
        await world.todos.create(alice, NewTodo(title="gone"), "key-2")


async def test_idempotency_keys_are_per_user(world: World, alice: Principal, bob: Principal) -> None:
    a = await world.todos.create(alice, NewTodo(title="same"), "shared")
    b = await world.todos.create(bob, NewTodo(title="same"), "shared")
    assert a.value.id != b.value.id
    assert not b.replayed


async def test_idempotency_keys_expire_after_a_day(world: World, alice: Principal) -> None:
    await world.todos.create(alice, NewTodo(title="old"), "k")
    world.clock.advance(25 * 3600)
    fresh = await world.todos.create(alice, NewTodo(title="new"), "k")
    assert not fresh.replayed


async def test_delete_honours_if_match(world: World, alice: Principal) -> None:
    todo = (await world.todos.create(alice, NewTodo(title="t"))).value
    with pytest.raises(PreconditionFailed):
        await world.todos.delete(alice, todo.id, frozenset({9}))
    await world.todos.delete(alice, todo.id, frozenset({1}))
    with pytest.raises(NotFound):
        await world.todos.get(alice, todo.id)


async def test_replace_resets_fields_not_sent(world: World, alice: Principal) -> None:
    todo = (await world.todos.create(alice, NewTodo(title="t", notes="n", tags=("x",), priority=Priority.LOW))).value
    replaced = await world.todos.replace(alice, todo.id, NewTodo(title="new"))
    assert (replaced.title, replaced.notes, replaced.tags, replaced.priority) == ("new", "", (), Priority.NONE)
    assert (replaced.order, replaced.list_id) == (todo.order, todo.list_id)


async def test_due_dates_outside_the_utc_calendar_are_refused_on_update(world: World, alice: Principal) -> None:
    todo = (await world.todos.create(alice, NewTodo(title="x"))).value
    with pytest.raises(Invalid) as caught:
        await world.todos.update(alice, todo.id, TodoChanges(due=LATEST_MINUS_14))
    assert [e.field for e in caught.value.errors] == ["due"]


async def test_search_refuses_bounds_outside_the_utc_calendar(world: World, alice: Principal) -> None:
    with pytest.raises(Invalid) as caught:
        await world.todos.search(alice, TodoFilter(due_before=EARLIEST_PLUS_14, due_after=LATEST_MINUS_14))
    assert {e.field for e in caught.value.errors} == {"due_before", "due_after"}
