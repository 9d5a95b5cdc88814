"""Routes for tests only (``TODOSTACK_TEST_ENDPOINTS=on``, refused in production).

``POST /__test__/allocate?mib=N`` keeps N more MiB alive in this worker, as a leak would;
``DELETE /__test__/allocate`` lets it all go. Both answer with the worker's pid and its RSS.
``GET /__test__/sleep?seconds=S`` takes S seconds in the handler; ``GET /__test__/db-sleep?seconds=S``
runs a query that keeps the database busy for S seconds (``pg_sleep``, or a spinning SQLite query):
both under the request's deadline, for the cancellation and shutdown tests.
"""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

from litestar import Router, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from msgspec import Struct

from todostack.delivery.http.services import Services
from todostack.runtime.memory import resident_bytes

__all__ = ["testing_router"]

_held: list[bytearray] = []
_MIB = 1024 * 1024


class Allocation(Struct):
    pid: int
    held_mib: int
    rss_bytes: int


def _state() -> Allocation:
    return Allocation(os.getpid(), sum(len(b) for b in _held) // _MIB, resident_bytes())


@post("/allocate", status_code=200)
async def allocate(mib: Annotated[int, QueryParameter(ge=1, le=4096)]) -> Allocation:
    block = bytearray(mib * _MIB)
    # Touch every page so the memory is resident, not just reserved.
    for offset in range(0, len(block), 4096):
        block[offset] = 1
    _held.append(block)
    return _state()


@delete("/allocate", status_code=200)
async def release() -> Allocation:
    _held.clear()
    return _state()


class Slept(Struct):
    pid: int
    seconds: float


Seconds = Annotated[float, QueryParameter(gt=0, le=600)]


@get("/sleep")
async def sleep(seconds: Seconds) -> Slept:
    await asyncio.sleep(seconds)
    return Slept(os.getpid(), seconds)


@get("/db-sleep")
async def db_sleep(seconds: Seconds, services: NamedDependency[Services]) -> Slept:
    assert services.db_sleep is not None
    await services.db_sleep(seconds)
    return Slept(os.getpid(), seconds)


def testing_router(dependencies: dict[str, Provide]) -> Router:
    return Router(
        "/__test__",
        route_handlers=[allocate, release, sleep, db_sleep],
        dependencies=dependencies,
        include_in_schema=False,
    )
