"""The change feed's use case and fan-out against the in-memory database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes import World
from todostack.domain import Invalid, Principal
from todostack.usecases import ChangeHub, ChangeService, NewTodo

pytestmark = pytest.mark.unit


async def _principal(world: World, name: str) -> Principal:
    created = await world.auth.register(f"{name}@example.com", "a long enough password")
    return Principal(created.value.id)


@pytest.mark.parametrize(("since", "limit"), [(-1, 10), (0, 0), (0, 501)], ids=["negative-since", "zero", "over-max"])
async def test_a_bad_cursor_or_limit_names_the_field(since: int, limit: int) -> None:
    world = World()
    service = ChangeService(world.db, world.clock)
    alice = await _principal(world, "alice")
    with pytest.raises(Invalid):
        await service.page(alice, since, limit)


async def test_pages_follow_on_and_see_only_their_owner() -> None:
    world = World()
    service = ChangeService(world.db, world.clock)
    alice, bob = await _principal(world, "alice"), await _principal(world, "bob")
    await world.todos.create(bob, NewTodo(title="bob's"))
    made = [(await world.todos.create(alice, NewTodo(title=f"t{i}"))).value for i in range(3)]
    first = await service.page(alice, 0, 2)
    assert first.more
    rest = await service.page(alice, first.next, 10)
    assert not rest.more
    seen = [c.entity_id for c in first.items + rest.items if c.entity.value == "todo"]
    assert seen == [t.id for t in made]
    assert {c.owner_id for c in first.items + rest.items} == {alice.user_id}
    assert (await service.page(alice, rest.next, 10)).items == []


async def test_a_reader_behind_the_horizon_or_ahead_of_the_database_must_resync() -> None:
    world = World()
    service = ChangeService(world.db, world.clock)
    alice = await _principal(world, "alice")
    await world.todos.create(alice, NewTodo(title="old"))
    latest = await service.latest()
    ahead = await service.page(alice, latest + 100, 10)
    assert ahead.resync
    assert ahead.next == latest
    # Two days on (the in-memory outbox stamps changes with the real time, like SQL's now()).
    world.clock.now = datetime.now(UTC) + timedelta(days=2)
    assert await service.prune(timedelta(days=1)) >= 1
    behind = await service.page(alice, 0, 10)
    assert behind.resync
    assert behind.next == latest
    assert not (await service.page(alice, latest, 10)).resync


async def test_the_hub_wakes_only_the_streams_of_the_owner() -> None:
    world = World()
    service = ChangeService(world.db, world.clock)
    hub = ChangeHub(service, poll_seconds=0.01, retention=timedelta(days=1))
    alice, bob = await _principal(world, "alice"), await _principal(world, "bob")
    pump = asyncio.create_task(hub.run())
    try:
        with hub.subscribe(alice.user_id) as mine, hub.subscribe(bob.user_id) as theirs:
            assert hub.open_streams == 2
            await asyncio.sleep(0.05)  # the pump has its position
            mine.woken.clear()
            theirs.woken.clear()
            await world.todos.create(alice, NewTodo(title="news"))
            assert await mine.wait(5.0)
            assert not await theirs.wait(0.1)
            hub.close()
            assert await theirs.wait(1.0)
            assert theirs.closing
        assert hub.open_streams == 0
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
