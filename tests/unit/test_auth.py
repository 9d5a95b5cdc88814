"""Registration, sign-in, tokens."""

from __future__ import annotations

import pytest

from tests.fakes import World
from todostack.domain import AuthenticationFailed, Conflict, Invalid


@pytest.mark.parametrize(
    ("email", "password", "fields"),
    [
        ("not-an-email", "long enough", {"email"}),
        ("a@b.co", "short", {"password"}),
        ("nope", "x", {"email", "password"}),
    ],
    ids=["bad-email", "short-password", "both"],
)
async def test_register_validates(world: World, email: str, password: str, fields: set[str]) -> None:
    with pytest.raises(Invalid) as caught:
        await world.auth.register(email, password)
    assert {e.field for e in caught.value.errors} == fields


async def test_register_normalises_email_and_creates_an_inbox(world: World) -> None:
    user = (await world.auth.register("  Ada@Example.COM ", "password1")).value
    assert user.email == "ada@example.com"
    assert user.password_hash != "password1"
    from todostack.domain import Principal

    lists = await world.lists.all(Principal(user.id))
    assert [lst.name for lst in lists] == ["Inbox"]


async def test_duplicate_email_conflicts(world: World) -> None:
    await world.auth.register("ada@example.com", "password1")
    with pytest.raises(Conflict):
        await world.auth.register("ADA@example.com", "password2")


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.com", "wrong password"), ("nobody@example.com", "password1")],
    ids=["wrong-password", "unknown-email"],
)
async def test_authenticate_fails_the_same_way(world: World, email: str, password: str) -> None:
    await world.auth.register("ada@example.com", "password1")
    with pytest.raises(AuthenticationFailed) as caught:
        await world.auth.authenticate(email, password)
    assert caught.value.detail == "wrong email or password"


async def test_token_round_trip_and_expiry(world: World) -> None:
    user = (await world.auth.register("ada@example.com", "password1")).value
    issued = await world.auth.authenticate("ADA@example.com", "password1")
    assert world.auth.principal_for_token(issued.token).user_id == user.id
    world.clock.advance(3601)
    with pytest.raises(AuthenticationFailed):
        world.auth.principal_for_token(issued.token)


async def test_register_replays_with_idempotency_key(world: World) -> None:
    first = await world.auth.register("ada@example.com", "password1", "k1")
    again = await world.auth.register("ada@example.com", "password1", "k1")
    assert again.replayed
    assert again.value == first.value
