"""Idempotent creation: a retried request with the same key gets the original result."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from todostack.domain import Conflict, IdempotencyKeyReused
from todostack.usecases.ports import Snapshot, UnitOfWork

__all__ = ["IDEMPOTENCY_TTL", "Created", "fingerprint", "present", "run_idempotent"]

# How long a key is remembered; after that the same key starts afresh.
IDEMPOTENCY_TTL = timedelta(hours=24)

S = TypeVar("S", bound=Snapshot)


class Created(Generic[S]):
    """A created resource, and whether it was replayed from an earlier identical request."""

    __slots__ = ("replayed", "value")

    def __init__(self, value: S, *, replayed: bool = False) -> None:
        self.value = value
        self.replayed = replayed


async def present(lookup: Awaitable[object | None]) -> bool:
    """``exists`` helper: does this repository lookup find something?"""
    return await lookup is not None


def fingerprint(kind: str, command: object) -> str:
    """A stable digest of what was asked: same command, same digest."""
    return hashlib.sha256(f"{kind}:{command!r}".encode()).hexdigest()


async def run_idempotent(
    uow: UnitOfWork,
    *,
    scope: str,
    key: str | None,
    digest: str,
    now: datetime,
    result_type: type[S],
    create: Callable[[], Awaitable[S]],
    exists: Callable[[S], Awaitable[bool]],
) -> Created[S]:
    """Run ``create`` inside ``uow`` once per (scope, key); commit; replay on retries.

    A replay whose resource was deleted since is a ``Conflict``: answering "created" with
    something that is gone would mislead the client.
    """
    if key is not None:
        prior = await uow.idempotency.claim(scope, key, digest, now)
        if prior is not None:
            if prior.fingerprint != digest or not isinstance(prior.snapshot, result_type):
                raise IdempotencyKeyReused()
            if not await exists(prior.snapshot):
                raise Conflict("what this Idempotency-Key created has been deleted since; use a new key")
            return Created(prior.snapshot, replayed=True)
    value = await create()
    if key is not None:
        await uow.idempotency.complete(scope, key, value)
    await uow.commit()
    return Created(value)
