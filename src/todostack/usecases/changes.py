"""The change feed: what changed for a user since a cursor, and the fan-out that wakes streams.

The outbox (``ChangeRepository``) is the truth; wake-ups only say "look again". A worker runs
one ``ChangeHub``: its pump reads the changes newer than it has seen, for every owner at once,
and wakes the subscriptions of their owners, which then read their own changes from the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta

from todostack.domain import Change, FieldError, Invalid, Principal
from todostack.usecases.ports import Clock, UnitOfWorkFactory

__all__ = ["CHANGES_LIMIT_MAX", "ChangeHub", "ChangePage", "ChangeService", "Subscription"]

log = logging.getLogger("todostack.feed")

CHANGES_LIMIT_MAX = 500
_PRUNE_BATCH = 5000
_PUMP_BATCH = 1000


@dataclass(frozen=True, slots=True)
class ChangePage:
    """``next`` is the cursor to ask with next time. ``resync``: the changes after the cursor
    asked with are no longer all kept (or the cursor is from another database): reload
    everything, then follow on from ``next``."""

    items: list[Change]
    next: int
    more: bool
    resync: bool = False


class ChangeService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def page(self, principal: Principal, since: int, limit: int = 100) -> ChangePage:
        errors: list[FieldError] = []
        if not 1 <= limit <= CHANGES_LIMIT_MAX:
            errors.append(FieldError("limit", f"must be between 1 and {CHANGES_LIMIT_MAX}"))
        if since < 0:
            errors.append(FieldError("since", "must be a change id (0 or more)"))
        if errors:
            raise Invalid(errors)
        async with self._uow() as uow:
            rows = await uow.changes.since(principal.user_id, since, limit + 1)
            # After the rows: pruning raises the horizon in the transaction that deletes, so a
            # horizon still at or below ``since`` now proves nothing after it was missing then.
            horizon = await uow.changes.horizon()
            latest = None if rows else await uow.changes.latest()
        if since < horizon or (latest is not None and since > latest):
            return ChangePage([], max(horizon, latest or 0), more=False, resync=True)
        items = rows[:limit]
        return ChangePage(items, items[-1].id if items else since, more=len(rows) > limit)

    async def latest(self) -> int:
        async with self._uow() as uow:
            return await uow.changes.latest()

    async def prune(self, retention: timedelta) -> int:
        """Delete the changes older than ``retention``; returns how many went."""
        before = self._clock() - retention
        total = 0
        while True:
            async with self._uow(write=True) as uow:
                gone = await uow.changes.prune(before, _PRUNE_BATCH)
                await uow.commit()
            total += gone
            if gone < _PRUNE_BATCH:
                return total


class Subscription:
    """One stream's wake-up: set when its owner may have new changes, or when streams close."""

    __slots__ = ("hub", "owner_id", "woken")

    def __init__(self, hub: ChangeHub, owner_id: str) -> None:
        self.hub = hub
        self.owner_id = owner_id
        self.woken = asyncio.Event()

    @property
    def closing(self) -> bool:
        return self.hub.closing

    async def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` to be woken; say whether it was (and reset for the next wait)."""
        if not self.woken.is_set():
            with suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self.woken.wait()
        woken = self.woken.is_set()
        self.woken.clear()
        return woken


class ChangeHub:
    """One worker's fan-out of changes to its open streams.

    ``poll_seconds``: how often the pump looks for new changes while streams are open (the
    wake-up on SQLite, where other workers' writes leave no other trace). ``poke`` makes it
    look at once (PostgreSQL's NOTIFY).
    """

    def __init__(
        self,
        service: ChangeService,
        *,
        poll_seconds: float,
        retention: timedelta,
        prune_every: float = 60.0,
        read_slots: int = 2,
    ) -> None:
        self._service = service
        # Streams read the outbox through the same pool as requests: a thousand streams woken
        # (or opened) at once take turns on a few connections, and never starve requests of them.
        self.reads = asyncio.Semaphore(read_slots)
        self._uow = service._uow
        self.poll_seconds = poll_seconds
        self._retention = retention
        self._prune_every = prune_every
        self._subs: dict[str, set[Subscription]] = {}
        self._poked = asyncio.Event()
        self._wanted = asyncio.Event()
        self._position: int | None = None
        self.closing = False

    @property
    def open_streams(self) -> int:
        return sum(len(subs) for subs in self._subs.values())

    @contextmanager
    def subscribe(self, owner_id: str) -> Iterator[Subscription]:
        sub = Subscription(self, owner_id)
        self._subs.setdefault(owner_id, set()).add(sub)
        self._wanted.set()
        try:
            yield sub
        finally:
            subs = self._subs.get(owner_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[owner_id]

    def poke(self) -> None:
        self._poked.set()

    def close(self) -> None:
        """Shutdown: every stream wakes, sees ``closing`` and ends with a retry hint."""
        self.closing = True
        for subs in self._subs.values():
            for sub in subs:
                sub.woken.set()

    def _wake(self, owners: set[str] | None) -> None:
        for owner, subs in self._subs.items():
            if owners is None or owner in owners:
                for sub in subs:
                    sub.woken.set()

    async def run(self) -> None:
        """The pump and the pruning, until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._prune_forever())
            await self._pump_forever()

    async def _pump_forever(self) -> None:
        while True:
            if not self._subs:
                # Nobody listens: no polling at all; the next subscriber reads for itself.
                self._wanted.clear()
                self._position = None
                await self._wanted.wait()
            with suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._poked.wait()
            self._poked.clear()
            try:
                await self._pump_once()
            except Exception:
                log.warning("the change feed could not read new changes; retrying", exc_info=True)
                await asyncio.sleep(min(1.0, self.poll_seconds * 10))

    async def _pump_once(self) -> None:
        async with self._uow() as uow:
            if self._position is None:
                self._position = await uow.changes.latest()
                # Streams that subscribed meanwhile read for themselves: wake them once.
                self._wake(None)
                return
            while True:
                rows = await uow.changes.recent(self._position, _PUMP_BATCH)
                if not rows:
                    return
                self._position = rows[-1].id
                self._wake({c.owner_id for c in rows})
                if len(rows) < _PUMP_BATCH:
                    return

    async def _prune_forever(self) -> None:
        while True:
            await asyncio.sleep(self._prune_every)
            try:
                gone = await self._service.prune(self._retention)
            except Exception:
                log.warning("pruning the change feed failed; trying again later", exc_info=True)
                continue
            if gone:
                log.info("pruned %d change(s) older than %s", gone, self._retention)
