"""Idempotent creation: a retried request with the same key gets the original result."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Generic, TypeVar

from todostack.domain import IdempotencyKeyReused
from todostack.usecases.ports import Snapshot, UnitOfWork

__all__ = ["Created", "fingerprint", "run_idempotent"]

S = TypeVar("S", bound=Snapshot)


class Created(Generic[S]):
    """A created resource, and whether it was replayed from an earlier identical request."""

    __slots__ = ("replayed", "value")

    def __init__(self, value: S, *, replayed: bool = False) -> None:
        self.value = value
        self.replayed = replayed


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
) -> Created[S]:
    """Run ``create`` inside ``uow`` once per (scope, key); commit; replay on retries."""
    if key is not None:
        prior = await uow.idempotency.claim(scope, key, digest, now)
        if prior is not None:
            if prior.fingerprint != digest or not isinstance(prior.snapshot, result_type):
                raise IdempotencyKeyReused()
            return Created(prior.snapshot, replayed=True)
    value = await create()
    if key is not None:
        await uow.idempotency.complete(scope, key, value)
    await uow.commit()
    return Created(value)
