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
    def __init__(self, params: Argon2Params) -> None:
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )

    async def hash(self, password: str) -> str:
        # Tens of milliseconds of CPU: run it in a thread so other requests keep flowing.
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
