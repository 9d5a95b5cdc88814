"""Registration, sign-in, sessions, the password policy and the sign-in throttle (use cases, fakes)."""

from __future__ import annotations

import pytest

from tests.fakes import World
from todostack.domain import (
    AuthenticationFailed,
    Forbidden,
    IdempotencyKeyReused,
    Invalid,
    Principal,
    TooManyAttempts,
)

PASSWORD = "correct horse battery"


@pytest.mark.parametrize(
    ("email", "password", "fields"),
    [
        ("not-an-email", "long enough password", {"email"}),
        ("a@b.co", "short", {"password"}),
        ("a@b.co", "elevenchars", {"password"}),
        ("nope", "x", {"email", "password"}),
    ],
    ids=["bad-email", "short-password", "eleven-characters", "both"],
)
async def test_register_validates(world: World, email: str, password: str, fields: set[str]) -> None:
    with pytest.raises(Invalid) as caught:
        await world.auth.register(email, password)
    assert {e.field for e in caught.value.errors} == fields


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("qazwsxedcrfv", "most common"),  # in the shipped top 10,000, and 12 characters long
        ("1q2w3e4r5t6y", "most common"),
        ("QAZwsxEDCrfv", "most common"),  # case does not help
        ("dragondragon", "most common"),  # a common one written twice
        ("        " * 2, "repeated"),  # spaces only
        ("aaaaaaaaaaaaaaa", "repeated"),
        ("abcabcabcabc", "repeated"),
    ],
    ids=["common", "keyboard-walk", "other-case", "common-twice", "spaces", "one-character", "short-unit"],
)
async def test_register_refuses_well_known_passwords_and_says_why(world: World, password: str, why: str) -> None:
    with pytest.raises(Invalid) as caught:
        await world.auth.register("ada@example.com", password)
    [error] = caught.value.errors
    assert error.field == "password"
    assert why in error.message


async def test_length_counts_after_nfkc_normalisation(world: World) -> None:
    # Eleven characters as typed; NFKC turns the ligature "ﬃ" into "ffi": thirteen.
    typed = "ﬃrst-pass-x"
    assert len(typed) == 11
    user = (await world.auth.register("ada@example.com", typed)).value
    # The normalised password is what was hashed: the spelled-out form signs in too.
    assert user.password_hash == "fake$ffirst-pass-x"
    await world.auth.authenticate("ada@example.com", "ffirst-pass-x")


async def test_register_normalises_email_and_creates_an_inbox(world: World) -> None:
    user = (await world.auth.register("  Ada@Example.COM ", PASSWORD)).value
    assert user.email == "ada@example.com"
    assert user.password_hash != PASSWORD
    lists = await world.lists.all(Principal(user.id))
    assert [lst.name for lst in lists] == ["Inbox"]


async def test_a_taken_email_gets_the_same_answer_and_changes_nothing(world: World) -> None:
    first = (await world.auth.register("ada@example.com", PASSWORD)).value
    again = (await world.auth.register("ADA@example.com", "another long password")).value
    assert (again.email, type(again)) == (first.email, type(first))
    assert again.id != first.id
    # The account is the first one still: its password, not the second.
    await world.auth.authenticate("ada@example.com", PASSWORD)
    with pytest.raises(AuthenticationFailed):
        await world.auth.authenticate("ada@example.com", "another long password")


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
async def test_authenticate_fails_the_same_way(world: World, email: str, password: str) -> None:
    await world.auth.register("ada@example.com", PASSWORD)
    with pytest.raises(AuthenticationFailed) as caught:
        await world.auth.authenticate(email, password)
    assert caught.value.detail == "wrong email or password"


async def test_token_round_trip_and_expiry(world: World) -> None:
    user = (await world.auth.register("ada@example.com", PASSWORD)).value
    issued = await world.auth.authenticate("ADA@example.com", PASSWORD)
    assert (await world.auth.principal_for_token(issued.token)).user_id == user.id
    world.clock.advance(3601)
    with pytest.raises(AuthenticationFailed):
        await world.auth.principal_for_token(issued.token)


async def test_register_replays_with_idempotency_key(world: World) -> None:
    first = await world.auth.register("ada@example.com", PASSWORD, "k1")
    again = await world.auth.register("ada@example.com", PASSWORD, "k1")
    assert again.replayed
    assert again.value == first.value


async def test_an_idempotency_key_never_replays_an_account_to_someone_without_its_password(world: World) -> None:
    await world.auth.register("ada@example.com", PASSWORD, "k1")
    with pytest.raises(IdempotencyKeyReused):
        await world.auth.register("ada@example.com", "an attacker's guess", "k1")


async def test_a_replayed_taken_email_answers_like_a_replayed_new_one(world: World) -> None:
    await world.auth.register("ada@example.com", PASSWORD)
    first = await world.auth.register("ada@example.com", "someone else's pw", "k2")
    again = await world.auth.register("ada@example.com", "someone else's pw", "k2")
    assert again.replayed
    assert again.value == first.value


async def _signed_in(world: World, email: str = "ada@example.com") -> tuple[Principal, str]:
    user = (await world.auth.register(email, PASSWORD)).value
    return Principal(user.id), (await world.auth.authenticate(email, PASSWORD)).token


async def test_sign_out_ends_that_session_only(world: World) -> None:
    principal, phone = await _signed_in(world)
    laptop = (await world.auth.authenticate("ada@example.com", PASSWORD)).token
    await world.auth.sign_out(phone)
    with pytest.raises(AuthenticationFailed, match="session has ended"):
        await world.auth.principal_for_token(phone)
    assert await world.auth.principal_for_token(laptop) == principal


async def test_sign_out_everywhere_ends_every_session(world: World) -> None:
    principal, phone = await _signed_in(world)
    laptop = (await world.auth.authenticate("ada@example.com", PASSWORD)).token
    _, bobs = await _signed_in(world, "bob@example.com")
    assert await world.auth.sign_out_everywhere(principal) == 2
    for token in (phone, laptop):
        with pytest.raises(AuthenticationFailed):
            await world.auth.principal_for_token(token)
    assert await world.auth.principal_for_token(bobs)  # someone else's stay


async def test_password_change_ends_every_session_and_opens_one(world: World) -> None:
    principal, old = await _signed_in(world)
    fresh = await world.auth.change_password(principal, PASSWORD, "a brand new passphrase")
    with pytest.raises(AuthenticationFailed):
        await world.auth.principal_for_token(old)
    assert await world.auth.principal_for_token(fresh.token) == principal
    await world.auth.authenticate("ada@example.com", "a brand new passphrase")
    with pytest.raises(AuthenticationFailed):
        await world.auth.authenticate("ada@example.com", PASSWORD)


@pytest.mark.parametrize(
    ("current", "new", "error"),
    [("not the password", "a brand new passphrase", Forbidden), (PASSWORD, "password", Invalid)],
    ids=["wrong-current", "weak-new"],
)
async def test_password_change_refusals(world: World, current: str, new: str, error: type[Exception]) -> None:
    principal, token = await _signed_in(world)
    with pytest.raises(error):
        await world.auth.change_password(principal, current, new)
    assert await world.auth.principal_for_token(token) == principal  # nothing ended


async def test_an_operator_revokes_a_user(world: World) -> None:
    _, token = await _signed_in(world)
    assert await world.auth.revoke_user("ADA@example.com") == 1
    with pytest.raises(AuthenticationFailed):
        await world.auth.principal_for_token(token)
    assert await world.auth.revoke_user("nobody@example.com") is None


async def test_another_worker_notices_a_revocation_within_the_check_interval() -> None:
    world = World(session_check_seconds=1.0)
    principal, token = await _signed_in(world)
    assert await world.auth.principal_for_token(token) == principal  # seen: trusted for 1 s
    # Revoked behind this worker's back (another worker, or the CLI), straight in the store.
    async with world.db(write=True) as uow:
        await uow.sessions.revoke_all(principal.user_id, world.clock())
        await uow.commit()
    assert await world.auth.principal_for_token(token) == principal
    world.monotonic.now += 1.0
    with pytest.raises(AuthenticationFailed):
        await world.auth.principal_for_token(token)


async def test_guesses_past_the_address_limit_are_refused_before_hashing(world: World) -> None:
    await world.auth.register("ada@example.com", PASSWORD)
    for n in range(10):
        with pytest.raises(AuthenticationFailed):
            await world.auth.authenticate(f"user{n}@example.com", "wrong password!", "203.0.113.7")
    hashed = world.hasher.verified
    with pytest.raises(TooManyAttempts) as caught:
        await world.auth.authenticate("ada@example.com", PASSWORD, "203.0.113.7")
    assert world.hasher.verified == hashed  # refused before any hash
    assert 1 <= caught.value.retry_after_seconds <= 60
    # Another address is not affected; the minute over, this one may try again.
    await world.auth.authenticate("ada@example.com", PASSWORD, "198.51.100.1")
    world.clock.advance(60)
    await world.auth.authenticate("ada@example.com", PASSWORD, "203.0.113.7")


async def test_successful_sign_ins_do_not_use_up_the_address_limit(world: World) -> None:
    await world.auth.register("ada@example.com", PASSWORD)
    for _ in range(25):
        await world.auth.authenticate("ada@example.com", PASSWORD, "203.0.113.7")


async def test_an_account_backs_off_exponentially_whatever_the_address(world: World) -> None:
    await world.auth.register("ada@example.com", PASSWORD)
    for n in range(5):
        with pytest.raises(AuthenticationFailed):
            await world.auth.authenticate("ada@example.com", "wrong password!", f"198.51.100.{n}")
    waits = []
    for n in range(4):
        with pytest.raises(TooManyAttempts) as caught:
            await world.auth.authenticate("ada@example.com", PASSWORD, f"192.0.2.{n}")
        waits.append(caught.value.retry_after_seconds)
        world.clock.advance(caught.value.retry_after_seconds)
        with pytest.raises(AuthenticationFailed):
            await world.auth.authenticate("ada@example.com", "wrong password!", f"192.0.2.{n}")
    assert waits == [1, 2, 4, 8]
    world.clock.advance(16)
    await world.auth.authenticate("ada@example.com", PASSWORD, "192.0.2.99")  # a success clears it
    with pytest.raises(AuthenticationFailed):
        await world.auth.authenticate("ada@example.com", "wrong password!", "192.0.2.99")


async def test_unknown_accounts_are_throttled_like_real_ones(world: World) -> None:
    for n in range(5):
        with pytest.raises(AuthenticationFailed):
            await world.auth.authenticate("nobody@example.com", "wrong password!", f"198.51.100.{n}")
    with pytest.raises(TooManyAttempts, match="for this account"):
        await world.auth.authenticate("nobody@example.com", "wrong password!", "192.0.2.1")


async def test_ipv6_addresses_count_by_their_64_prefix(world: World) -> None:
    for n in range(10):
        with pytest.raises(AuthenticationFailed):
            await world.auth.authenticate(f"u{n}@example.com", "wrong password!", f"2001:db8:1:2::{n:x}")
    with pytest.raises(TooManyAttempts, match="from this address"):
        await world.auth.authenticate("x@example.com", "wrong password!", "2001:db8:1:2:ffff::1")


async def test_attempts_that_fail_for_another_reason_do_not_count(world: World) -> None:
    await world.auth.register("ada@example.com", PASSWORD)

    async def broken(password_hash: str, password: str) -> bool:
        raise OSError("the hasher's thread pool is gone")

    working = world.hasher.verify
    world.hasher.verify = broken  # type: ignore[method-assign]
    for _ in range(12):
        with pytest.raises(OSError, match="thread pool"):
            await world.auth.authenticate("ada@example.com", PASSWORD, "203.0.113.9")
    world.hasher.verify = working  # type: ignore[method-assign]
    await world.auth.authenticate("ada@example.com", PASSWORD, "203.0.113.9")
