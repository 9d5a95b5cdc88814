"""Routes for tests only (``TODOSTACK_TEST_ENDPOINTS=on``, refused in production).

``POST /__test__/allocate?mib=N`` keeps N more MiB alive in this worker, as a leak would;
``DELETE /__test__/allocate`` lets it all go. Both answer with the worker's pid and its RSS.
"""

from __future__ import annotations

import os
from typing import Annotated

from litestar import Router, delete, post
from litestar.params import QueryParameter
from msgspec import Struct

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


def testing_router() -> Router:
    return Router("/__test__", route_handlers=[allocate, release], include_in_schema=False)
