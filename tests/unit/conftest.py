from __future__ import annotations

import pytest

from tests.fakes import World
from todostack.domain import Principal


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
async def alice(world: World) -> Principal:
    user = (await world.auth.register("alice@example.com", "correct horse")).value
    return Principal(user.id)


@pytest.fixture
async def bob(world: World) -> Principal:
    user = (await world.auth.register("bob@example.com", "battery staple")).value
    return Principal(user.id)
