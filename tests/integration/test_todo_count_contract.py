"""The per-account todo count behind the quota (``TodoRepository.count_for_owner``), part of the
one repository contract: every store, through the ports only. Exact after every write that adds
or removes todos, unchanged by a move between lists or a write rolled back.

The SQL stores' triggers themselves (several owners in one statement, a deleted account, an owner
changed, the migration's back-fill): ``test_todo_counts_sql.py``."""

from __future__ import annotations

from dataclasses import replace

from tests.fakes import T0, SequentialIds
from tests.integration.test_repository_contract import _add, _todo, _user
from todostack.bootstrap import Storage
from todostack.domain import TodoList

BIG = 1_000_000


async def _counts(storage: Storage, *owners: str) -> list[int]:
    async with storage.uow() as uow:
        return [await uow.todos.count_for_owner(owner, BIG) for owner in owners]


async def test_count_follows_adds_deletes_and_list_deletes(storage: Storage, ids: SequentialIds) -> None:
    user, inbox = await _user(storage, ids)
    other, others = await _user(storage, ids)
    extra = TodoList(ids(), user.id, "more", T0, T0)
    async with storage.uow(write=True) as uow:
        await uow.lists.add(extra)
        await uow.commit()
    assert await _counts(storage, user.id, other.id) == [0, 0]
    todos = [_todo(ids, user, lst, order=n) for n, lst in enumerate([inbox, inbox, extra, extra, extra])]
    await _add(storage, *todos, _todo(ids, other, others))
    assert await _counts(storage, user.id, other.id) == [5, 1]

    async with storage.uow(write=True) as uow:
        placed = await uow.todos.place(_todo(ids, user, inbox), list_id=None, order=None)
        assert placed is not None
        assert await uow.todos.place(_todo(ids, user, inbox), list_id=ids(), order=None) is None  # no such list
        await uow.commit()
    assert await _counts(storage, user.id, other.id) == [6, 1]

    async with storage.uow(write=True) as uow:
        await uow.todos.delete(user.id, todos[0].id)
        await uow.todos.delete(other.id, todos[1].id)  # not the other's: nothing goes
        await uow.commit()
    assert await _counts(storage, user.id, other.id) == [5, 1]

    async with storage.uow(write=True) as uow:
        await uow.lists.delete(user.id, extra.id)  # its three todos with it
        await uow.commit()
    assert await _counts(storage, user.id, other.id) == [2, 1]


async def test_place_writes_only_below_the_count_it_is_given(storage: Storage, ids: SequentialIds) -> None:
    user, inbox = await _user(storage, ids)
    other, others = await _user(storage, ids)
    await _add(storage, _todo(ids, user, inbox, order=0), _todo(ids, user, inbox, order=1))
    async with storage.uow(write=True) as uow:
        assert await uow.todos.place(_todo(ids, user, inbox), list_id=None, order=None, below=2) is None
        assert await uow.todos.place(_todo(ids, user, inbox), list_id=inbox.id, order=None, below=1) is None
        third = await uow.todos.place(_todo(ids, user, inbox), list_id=inbox.id, order=None, below=3)
        assert third is not None
        assert third.order == 2
        assert await uow.todos.place(_todo(ids, user, inbox), list_id=None, order=None, below=3) is None
        assert await uow.todos.place(_todo(ids, user, inbox), list_id=None, order=None, below=None) is not None
        await uow.commit()
    assert await _counts(storage, user.id, other.id) == [4, 0]
    async with storage.uow(write=True) as uow:  # the quota is the owner's: the other starts at 0
        assert await uow.todos.place(_todo(ids, other, others), list_id=None, order=None, below=1) is not None
        await uow.commit()
    assert await _counts(storage, user.id, other.id) == [4, 1]


async def test_count_is_unchanged_by_moves_completions_and_rollbacks(storage: Storage, ids: SequentialIds) -> None:
    user, inbox = await _user(storage, ids)
    extra = TodoList(ids(), user.id, "more", T0, T0)
    async with storage.uow(write=True) as uow:
        await uow.lists.add(extra)
        await uow.commit()
    first, second, third = (_todo(ids, user, inbox, order=n) for n in range(3))
    await _add(storage, first, second, third)

    async with storage.uow(write=True) as uow:
        await uow.todos.update(replace(first, list_id=extra.id, version=2))
        assert await uow.todos.update_if(replace(second, list_id=extra.id, version=2), version=1)
        await uow.todos.complete_all(user.id, inbox.id, T0)
        await uow.commit()
    assert await _counts(storage, user.id) == [3]

    async with storage.uow(write=True) as uow:  # rolled back: neither the todo nor its count
        await uow.todos.add(_todo(ids, user, inbox))
        await uow.todos.delete(user.id, first.id)
        assert await uow.todos.count_for_owner(user.id, BIG) == 3  # this unit of work's own writes
    assert await _counts(storage, user.id) == [3]

    async with storage.uow(write=True) as uow:
        assert await uow.todos.clear_completed(user.id, inbox.id) == 1  # the third, completed above
        await uow.commit()
    async with storage.uow() as uow:
        assert await uow.todos.count_for_owner(user.id, BIG) == 2
        assert await uow.todos.count_for_owner(user.id, 1) == 1  # still bounded by up_to
