"""Routes for tests only (``TODOSTACK_TEST_ENDPOINTS=on``, refused in production).

``POST /__test__/allocate?mib=N`` keeps N more MiB alive in this worker, as a leak would;
``DELETE /__test__/allocate`` lets it all go. Both answer with the worker's pid and its RSS.
``GET /__test__/sleep?seconds=S`` takes S seconds in the handler; ``GET /__test__/db-sleep?seconds=S``
runs a query that keeps the database busy for S seconds (``pg_sleep``, or a spinning SQLite query):
both under the request's deadline, for the cancellation and shutdown tests.
``POST /__test__/burn?seconds=S`` burns CPU for S seconds in ``burn_cpu_for_autoprof_test`` (in a
thread, or on the event loop itself with ``blocking=true``), and ``POST /__test__/hog?mib=N`` keeps
N MiB allocated by ``hog_memory_for_autoprof_test``: the functions a profile must find.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Annotated

from litestar import Router, delete, get, post
from litestar.params import FromQuery, QueryParameter
from msgspec import Struct

from todostack.delivery.http.api.request import ApiRequest
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
async def db_sleep(seconds: Seconds, request: ApiRequest) -> Slept:
    services = request.services
    assert services.db_sleep is not None
    await services.db_sleep(seconds)
    return Slept(os.getpid(), seconds)


class Burned(Struct):
    pid: int
    seconds: float
    rounds: int


def burn_cpu_for_autoprof_test(seconds: float) -> int:
    rounds = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        total = 0
        for i in range(1000):  # a plain loop: the time is spent in this very function
            total += i * i
        rounds += 1 if total else 0
    return rounds


@post("/burn", status_code=200)
async def burn(seconds: Annotated[float, QueryParameter(gt=0, le=120)], blocking: FromQuery[bool] = False) -> Burned:
    if blocking:
        rounds = burn_cpu_for_autoprof_test(seconds)
    else:
        rounds = await asyncio.to_thread(burn_cpu_for_autoprof_test, seconds)
    return Burned(os.getpid(), seconds, rounds)


def hog_memory_for_autoprof_test(mib: int) -> None:
    for _ in range(mib * 16):  # 64 KiB at a time, as a slow leak would
        chunk = bytearray(64 * 1024)
        chunk[::4096] = b"\x01" * len(chunk[::4096])  # resident, not just reserved
        _held.append(chunk)


@post("/hog", status_code=200)
async def hog(mib: Annotated[int, QueryParameter(ge=1, le=4096)]) -> Allocation:
    hog_memory_for_autoprof_test(mib)
    return _state()


def testing_router() -> Router:
    return Router(
        "/__test__",
        route_handlers=[allocate, release, sleep, db_sleep, burn, hog],
        include_in_schema=False,
    )
