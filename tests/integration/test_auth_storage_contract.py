"""Sessions and sign-in attempt counters: one contract for every store (memory, SQLite, PostgreSQL
through the unit of work; Redis for the counters). Tests talk to the ports only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.fakes import T0, SequentialIds
from todostack.adapters.attempts import DatabaseAttempts
from todostack.adapters.redis_attempts import RedisAttempts
from todostack.bootstrap import Storage, migrate, open_storage
from todostack.domain import User
from todostack.runtime import Settings
from todostack.runtime.settings import DatabaseSettings
from todostack.usecases.ports import AttemptStore, Session

REDIS_URL = "redis://127.0.0.1:6379/0"


async def _user(storage: Storage, ids: SequentialIds) -> User:
    user = User(ids(), f"{ids()}@example.com", "hash", T0)
    async with storage.uow(write=True) as uow:
        await uow.users.add(user)
        await uow.commit()
    return user


async def _session(storage: Storage, session: Session) -> None:
    async with storage.uow(write=True) as uow:
        await uow.sessions.add(session)
        await uow.commit()


async def test_sessions_end_one_by_one_or_all_together(storage: Storage, ids: SequentialIds) -> None:
    ada, bob = await _user(storage, ids), await _user(storage, ids)
    day = T0 + timedelta(days=1)
    phone, laptop, old = (Session(f"s-{ids()}", ada.id, T0, day) for _ in range(3))
    bobs = Session(f"s-{ids()}", bob.id, T0, day)
    for session in (phone, laptop, bobs, Session(old.id, ada.id, T0 - timedelta(days=2), T0 - timedelta(days=1))):
        await _session(storage, session)
    async with storage.uow() as uow:
        assert await uow.sessions.active_user(phone.id, T0) == ada.id
        assert await uow.sessions.active_user(old.id, T0) is None  # expired
        assert await uow.sessions.active_user("no-such-session", T0) is None
        assert await uow.sessions.active_user(phone.id, day) is None  # expires at its expiry
    async with storage.uow(write=True) as uow:
        await uow.sessions.revoke(phone.id, T0)
        await uow.commit()
    async with storage.uow(write=True) as uow:
        assert await uow.sessions.active_user(phone.id, T0) is None
        assert await uow.sessions.active_user(laptop.id, T0) == ada.id
        assert await uow.sessions.revoke_all(ada.id, T0) == 1  # the laptop; the phone had ended
        await uow.commit()
    async with storage.uow(write=True) as uow:
        assert await uow.sessions.active_user(laptop.id, T0) is None
        assert await uow.sessions.active_user(bobs.id, T0) == bob.id
        assert await uow.sessions.prune(T0) >= 1  # the expired one
        await uow.commit()


async def test_a_password_hash_is_replaced(storage: Storage, ids: SequentialIds) -> None:
    user = await _user(storage, ids)
    async with storage.uow(write=True) as uow:
        await uow.users.set_password_hash(user.id, "new-hash")
        await uow.commit()
    async with storage.uow() as uow:
        found = await uow.users.get(user.id)
    assert found is not None
    assert found.password_hash == "new-hash"


@pytest.fixture(params=["memory", "sqlite", "postgresql", "redis"])
async def attempts(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AttemptStore]:
    if request.param == "redis":
        redis = RedisAttempts.from_url(REDIS_URL)
        try:
            yield redis
        finally:
            await redis.close()
        return
    url = {"memory": "memory://", "sqlite": f"sqlite:///{tmp_path}/attempts.db"}.get(request.param)
    settings = Settings(database=DatabaseSettings(url=url or request.getfixturevalue("pg_url"), pool_size=4))
    await migrate(settings)
    store = await open_storage(settings)
    try:
        yield DatabaseAttempts(store.uow)
    finally:
        await store.close()


def _key() -> str:
    return f"test:{uuid.uuid4()}"


async def test_attempts_count_within_a_window_and_start_afresh_after(attempts: AttemptStore) -> None:
    key = _key()
    assert [(await attempts.attempt(key, T0, 60)).count for _ in range(3)] == [1, 2, 3]
    assert (await attempts.attempt(key, T0 + timedelta(seconds=59), 60)).count == 4
    assert (await attempts.attempt(key, T0 + timedelta(seconds=60), 60)).count == 1


async def test_a_locked_key_refuses_without_counting(attempts: AttemptStore) -> None:
    key = _key()
    await attempts.attempt(key, T0, 3600)
    until = T0 + timedelta(seconds=30)
    await attempts.lock(key, until)
    await attempts.lock(key, T0 + timedelta(seconds=10))  # an earlier lock does not shorten it
    refused = await attempts.attempt(key, T0 + timedelta(seconds=29), 3600)
    assert refused.locked_until == until
    assert (await attempts.attempt(key, until, 3600)).count == 2  # the refusal was not counted


async def test_refund_and_clear(attempts: AttemptStore) -> None:
    key = _key()
    for _ in range(3):
        await attempts.attempt(key, T0, 60)
    await attempts.refund(key)
    assert (await attempts.attempt(key, T0, 60)).count == 3
    await attempts.lock(key, T0 + timedelta(hours=1))
    await attempts.clear(key)
    assert (await attempts.attempt(key, T0, 60)).count == 1


async def test_concurrent_attempts_never_lose_a_count(attempts: AttemptStore) -> None:
    key = _key()
    seen = await asyncio.gather(*(attempts.attempt(key, T0, 60) for _ in range(40)))
    assert sorted(a.count for a in seen) == list(range(1, 41))


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
async def test_a_lock_survives_a_restart(dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path}/restart.db" if dialect == "sqlite" else request.getfixturevalue("pg_url")
    settings = Settings(database=DatabaseSettings(url=url, pool_size=2))
    await migrate(settings)
    key = _key()
    store = await open_storage(settings)
    try:
        await DatabaseAttempts(store.uow).attempt(key, T0, 60)
        await DatabaseAttempts(store.uow).lock(key, T0 + timedelta(minutes=5))
    finally:
        await store.close()
    store = await open_storage(settings)  # a new process would open it like this
    try:
        refused = await DatabaseAttempts(store.uow).attempt(key, T0 + timedelta(minutes=1), 60)
    finally:
        await store.close()
    assert refused.locked_until == T0 + timedelta(minutes=5)
