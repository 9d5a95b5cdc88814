"""What a storage backend hands the rest of the system once it is open."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeAlias

from todostack.observability.process import PoolState
from todostack.usecases.ports import UnitOfWorkFactory

__all__ = ["StatementObserver", "Storage"]

# Told of every statement either SQL backend runs: (db system, operation, seconds).
StatementObserver: TypeAlias = Callable[[str, str, float], None]


@dataclass(frozen=True, slots=True)
class Storage:
    uow: UnitOfWorkFactory
    ping: Callable[[], Awaitable[None]]
    close: Callable[[], Awaitable[None]]
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    pool_state: Callable[[], PoolState] | None = None
    # PostgreSQL: give committed changes their feed ids now (a worker's listener does it when
    # told of a write; tests and tools that run none call this).
    number_changes: Callable[[], Awaitable[int]] | None = None
    # PostgreSQL: set when a write of this worker commits (what wakes its change-feed sequencer).
    wrote: asyncio.Event | None = None
