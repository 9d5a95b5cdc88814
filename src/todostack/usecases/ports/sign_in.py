"""What sign-in needs: sessions, attempt counters, password hashing and signed tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = [
    "Attempt",
    "AttemptStore",
    "PasswordHasher",
    "Session",
    "SessionRepository",
    "TokenClaims",
    "TokenCodec",
]


@dataclass(frozen=True, slots=True)
class Session:
    """One sign-in: what a token names, so that it can be ended before it expires."""

    id: str
    user_id: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


class SessionRepository(Protocol):
    async def add(self, session: Session) -> None: ...

    async def active_user(self, session_id: str, now: datetime) -> str | None:
        """The user id of the session if it is neither revoked nor expired at ``now``."""

    async def revoke(self, session_id: str, now: datetime) -> None: ...

    async def revoke_all(self, user_id: str, now: datetime) -> int:
        """End every open session of the user; return how many were open."""

    async def prune(self, now: datetime) -> int:
        """Forget sessions expired before ``now``; return how many."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """What an attempt store answered: ``count`` attempts in the key's current window, or,
    when ``locked_until`` is set, a refusal (nothing was counted)."""

    count: int
    locked_until: datetime | None = None


class AttemptStore(Protocol):
    """Counters of sign-in attempts shared by every worker and every pod (database or Redis).

    Each method is atomic on its own: concurrent attempts never lose a count.
    """

    async def attempt(self, key: str, now: datetime, window_seconds: int) -> Attempt:
        """Refuse when ``key`` is locked at ``now``; else count one attempt in its fixed window
        (a window older than ``window_seconds`` starts afresh at 1)."""

    async def lock(self, key: str, until: datetime) -> None:
        """Refuse ``key``'s attempts until ``until`` (a later lock already there stays)."""

    async def refund(self, key: str) -> None:
        """Take back one counted attempt (it succeeded)."""

    async def clear(self, key: str) -> None:
        """Forget ``key``: its count and its lock."""

    async def prune(self, before: datetime) -> int:
        """Forget keys whose window started and lock ended before ``before``; return how many."""


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a token says; times in whole Unix seconds (what the token carries: no datetime is
    built on the per-request path)."""

    user_id: str
    session_id: str
    issued_at: int
    expires_at: int


class TokenCodec(Protocol):
    def issue(self, claims: TokenClaims) -> str: ...

    def verify(self, token: str, now: datetime) -> TokenClaims | None:
        """The claims of a token this service signed that is valid at ``now``, else ``None``.

        The expiry it carries counts only up to its issue time plus the configured lifetime."""

    def digest(self, text: str) -> str:
        """A keyed digest of ``text`` (HMAC with the signing secret): safe to store beside data
        an attacker may read, unlike a plain hash of a guessable value."""
