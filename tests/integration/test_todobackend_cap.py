"""The Todo-Backend demo list's cap holds exactly under real concurrency on PostgreSQL."""

from __future__ import annotations

import asyncio

from tests.fakes import FakeClock, SequentialIds
from tests.pg import fresh_schema, run_sync
from todostack.bootstrap import migrate, open_storage
from todostack.domain import Conflict, Todo
from todostack.runtime import Settings
from todostack.runtime.settings import DatabaseSettings, RequestSettings
from todostack.usecases import TodoService
from todostack.usecases.todobackend import TodoBackendService

CAPACITY = 500
ATTEMPTS = 1_000
CONNECTIONS = 32  # transactions really in flight at once, not queued behind one connection


def test_a_thousand_concurrent_creates_never_exceed_the_demo_cap() -> None:
    # A sync test driving its own loop: a thousand tasks in asyncio's debug mode are the
    # harness's weight, not the service's, and the blocked-loop watch is for the latter.
    with fresh_schema() as url:  # the demo list has fixed ids: a schema of its own
        outcomes, stored = run_sync(_race(url))
    assert outcomes.count("created") == CAPACITY
    assert outcomes.count("full") == ATTEMPTS - CAPACITY
    assert len(stored) == CAPACITY


async def _race(url: str) -> tuple[list[str], list[Todo]]:
    settings = Settings(
        database=DatabaseSettings(url=url, pool_size=CONNECTIONS),
        # 1,000 creates queue for 32 connections taking the list's lock in turn: a busy
        # machine needs longer than the service's 2 s to hand the last of them a connection.
        requests=RequestSettings(db_acquire_timeout_seconds=120),
    )
    await migrate(settings)
    storage = await open_storage(settings)
    try:
        clock, ids = FakeClock(), SequentialIds()
        demo = TodoBackendService(storage.uow, TodoService(storage.uow, clock, ids), clock, CAPACITY)
        await demo.all()  # the demo list exists before the race starts

        async def create(n: int) -> str:
            try:
                await demo.create(f"todo {n}", completed=False, order=None)
            except Conflict:
                return "full"
            return "created"

        outcomes = await asyncio.gather(*(create(n) for n in range(ATTEMPTS)))
        stored = await demo.all()
    finally:
        await storage.close()
    return outcomes, stored
