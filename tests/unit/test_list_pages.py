"""Pages of lists: a signed cursor walks them all once; an altered or foreign cursor is refused."""

from __future__ import annotations

import base64
import json

import pytest

from tests.fakes import World
from todostack.domain import Invalid, Principal
from todostack.usecases import ListService, NewList
from todostack.usecases.queries import Cursor, CursorCodec, SortField

pytestmark = pytest.mark.unit


async def _walk(world: World, who: Principal, limit: int) -> tuple[list[str], list[str]]:
    names: list[str] = []
    cursors: list[str] = []
    cursor = None
    while True:
        page = await world.lists.page(who, limit=limit, cursor=cursor)
        names += [item.name for item in page.items]
        if page.next_cursor is None:
            return names, cursors
        cursor = page.next_cursor
        cursors.append(cursor)


async def test_a_walk_by_cursor_sees_every_list_once(world: World, alice: Principal) -> None:
    made = [f"list {n:02d}" for n in range(7)]
    for name in made:
        await world.lists.create(alice, NewList(name))
    names, cursors = await _walk(world, alice, 3)
    everything = [lst.name for lst in await world.lists.all(alice)]
    assert set(made) <= set(names)
    assert sorted(names) == sorted(everything)  # each list once, none missed
    assert cursors
    assert all("." in cursor for cursor in cursors)  # payload.signature


async def test_an_altered_list_cursor_is_refused(world: World, alice: Principal) -> None:
    for n in range(3):
        await world.lists.create(alice, NewList(f"l{n}"))
    page = await world.lists.page(alice, limit=1)
    assert page.next_cursor is not None
    payload, _, signature = page.next_cursor.partition(".")
    kind, created, _ = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    # Jump to another position (e.g. another owner's list id) by rewriting the payload.
    forged = base64.urlsafe_b64encode(json.dumps([kind, created, "0" * 36]).encode()).decode().rstrip("=")
    with pytest.raises(Invalid) as caught:
        await world.lists.page(alice, limit=1, cursor=f"{forged}.{signature}")
    assert "altered" in caught.value.errors[0].message
    # A cursor from another service's key (another deployment) is refused as well.
    other = ListService(world.db, world.clock, world.ids, cursors=CursorCodec.ephemeral())
    with pytest.raises(Invalid):
        await other.page(alice, limit=1, cursor=page.next_cursor)


async def test_a_todo_cursor_is_not_a_list_cursor(world: World, alice: Principal) -> None:
    codec = CursorCodec.ephemeral()
    lists = ListService(world.db, world.clock, world.ids, cursors=codec)
    todo_cursor = codec.encode(Cursor(SortField.ORDER, False, 3, "id-1"))
    with pytest.raises(Invalid):
        await lists.page(alice, limit=1, cursor=todo_cursor)
