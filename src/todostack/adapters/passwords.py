"""Argon2id password hashing, off the event loop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["Argon2Hasher", "Argon2Params"]


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """Defaults follow RFC 9106's second recommended option (64 MiB, 3 passes)."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4


class Argon2Hasher:
    """Each hash holds ``memory_kib`` of memory while it runs: at most ``concurrency`` run at once
    per worker, or a burst of sign-ins multiplies it (the benchmark's ten parallel sign-ups took a
    worker to 447 MiB with 64 MiB each; the others wait their turn, under the request's deadline).
    """

    def __init__(self, params: Argon2Params, *, concurrency: int = 2) -> None:
        self._turns = asyncio.Semaphore(concurrency)
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )

    async def hash(self, password: str) -> str:
        # Tens of milliseconds of CPU: run it in a thread so other requests keep flowing.
        async with self._turns:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        async with self._turns:
            return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
