"""Concurrent writers through the use cases, on every storage adapter."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes import FakeClock, FakeHasher, SequentialIds
from todostack.adapters.tokens import HmacTokenCodec
from todostack.bootstrap import Storage
from todostack.domain import PreconditionFailed, Principal
from todostack.usecases import AuthService, NewTodo, TodoChanges, TodoFilter, TodoService


async def _principal(storage: Storage, ids: SequentialIds, clock: FakeClock) -> Principal:
    from datetime import timedelta

    auth = AuthService(storage.uow, FakeHasher(), HmacTokenCodec("k" * 32), clock, ids, timedelta(hours=1))
    user = (await auth.register(f"{ids()}@example.com", "correct horse battery")).value
    return Principal(user.id)


async def test_two_writers_on_one_todo_one_wins_one_gets_412(
    storage: Storage, ids: SequentialIds, clock: FakeClock
) -> None:
    todos = TodoService(storage.uow, clock, ids)
    me = await _principal(storage, ids, clock)
    todo = (await todos.create(me, NewTodo(title="shared"))).value
    seen = frozenset({todo.version})

    async def write(title: str) -> str:
        try:
            await todos.update(me, todo.id, TodoChanges(title=title), seen)
        except PreconditionFailed:
            return "412"
        return "ok"

    outcomes = await asyncio.gather(write("first"), write("second"))
    assert sorted(outcomes) == ["412", "ok"]
    final = await todos.get(me, todo.id)
    assert final.version == 2
    assert final.title in ("first", "second")


@pytest.mark.parametrize("parallel", [2, 8])
async def test_parallel_creates_with_one_key_make_one_todo(
    storage: Storage, ids: SequentialIds, clock: FakeClock, parallel: int
) -> None:
    todos = TodoService(storage.uow, clock, ids)
    me = await _principal(storage, ids, clock)
    results = await asyncio.gather(
        *(todos.create(me, NewTodo(title="once"), idempotency_key="same-key") for _ in range(parallel))
    )
    assert len({r.value.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    page = await todos.search(me, TodoFilter())
    assert [t.title for t in page.items] == ["once"]
