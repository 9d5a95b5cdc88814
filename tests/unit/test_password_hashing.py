"""Argon2 hashes hold their memory while they run: only a few may run at once in a worker."""

from __future__ import annotations

import asyncio
import threading
import time

from todostack.adapters.passwords import Argon2Hasher, Argon2Params


async def test_no_more_hashes_run_at_once_than_the_worker_allows() -> None:
    hasher = Argon2Hasher(Argon2Params(time_cost=1, memory_kib=1024), concurrency=2)
    running, most = 0, 0
    lock = threading.Lock()
    real = hasher._hasher

    class Counting:
        def hash(self, password: str) -> str:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.02)  # in a worker thread: the event loop is not blocked
            with lock:
                running -= 1
            return real.hash(password)

        def verify(self, password_hash: str, password: str) -> bool:
            return real.verify(password_hash, password)

    hasher._hasher = Counting()  # type: ignore[assignment]
    hashes = await asyncio.gather(*(hasher.hash(f"password-{n}") for n in range(8)))
    assert most == 2
    assert all(await asyncio.gather(*(hasher.verify(h, f"password-{n}") for n, h in enumerate(hashes))))
