"""A bounded wait for a shared resource (a pooled connection, SQLite's write turn)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from todostack import context
from todostack.context import DeadlineExceeded, Overloaded

__all__ = ["bounded_wait"]


@asynccontextmanager
async def bounded_wait(limit: float, what: str) -> AsyncIterator[None]:
    """Wait no longer than ``limit`` or the request's deadline, whichever comes first.

    Waiting without bound is how an overloaded service collapses: past the bound the caller gets
    ``Overloaded`` (503, retry later), or ``DeadlineExceeded`` when the deadline came first.
    """
    left = context.remaining()
    wait = limit if left is None else min(limit, left)
    try:
        async with asyncio.timeout(wait):
            yield
    except TimeoutError:
        if left is not None and left <= limit:
            raise DeadlineExceeded(f"the request ran out of time waiting for {what}") from None
        raise Overloaded(f"no {what} came free within {limit:g} s") from None
