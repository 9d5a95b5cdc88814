"""Sign-in throttling, decided before any password is hashed.

Two counters guard each attempt, both kept in an ``AttemptStore`` that every worker and every
pod share (the database, or Redis) so that limits hold across processes and survive restarts:

- per client address (an IPv6 address counts by its /64): ``ip_limit`` failed sign-ins a
  minute; past it, every attempt from there is refused until the minute ends;
- per account (any email, registered or not, so refusals tell nothing about who has an
  account): ``free_failures`` failures, then each further failure locks the account for 1 s,
  2 s, 4 s, … up to ``max_lock_seconds``. A success clears the account's count.

Attempts are counted when they start, not when they fail, so a burst of concurrent guesses
cannot all slip past the limit while the first ones are still hashing; a success gives its
address's count back. A refused attempt costs one store round trip, or none when this worker
already knows the lock (it remembers locks it has seen until they end).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from todostack.domain import TooManyAttempts
from todostack.usecases.ports import AttemptStore, Clock

__all__ = ["Admission", "SignInThrottle", "ThrottlePolicy", "address_key"]

IP_WINDOW_SECONDS = 60
# Failures of an account are counted over a day from the first one (a success clears them).
ACCOUNT_WINDOW_SECONDS = 24 * 3600
# Counters older than this are pruned from the store.
_PRUNE_AFTER = timedelta(days=2)
_PRUNE_EVERY = timedelta(minutes=10)
_MAX_REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    ip_limit: int = 10
    free_failures: int = 5
    max_lock_seconds: int = 900


@dataclass(frozen=True, slots=True)
class Admission:
    """An attempt let through; hand it back with the outcome."""

    address_key: str | None
    account_key: str


def address_key(address: str | None) -> str | None:
    """The counter an address counts against: itself, or its /64 for IPv6 (one subscriber's
    network; an attacker holds billions of addresses inside it)."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"ip:{address[:64]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"ip:{ip.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"ip:{ip}"


class SignInThrottle:
    def __init__(self, store: AttemptStore, clock: Clock, policy: ThrottlePolicy | None = None) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy or ThrottlePolicy()
        self._locks: dict[str, datetime] = {}  # locks this worker has seen, until they end
        self._next_prune: datetime | None = None

    def _refuse(self, key: str, until: datetime, now: datetime) -> TooManyAttempts:
        if len(self._locks) >= _MAX_REMEMBERED:
            self._locks = {k: u for k, u in self._locks.items() if u > now}
            if len(self._locks) >= _MAX_REMEMBERED:
                self._locks.clear()
        self._locks[key] = until
        wait = max(1, math.ceil((until - now).total_seconds()))
        if key.startswith("ip:"):
            detail = f"too many failed sign-ins from this address; try again in {wait} s"
        else:
            detail = f"too many failed sign-ins for this account; try again in {wait} s"
        return TooManyAttempts(detail, wait)

    def _remembered(self, key: str | None, now: datetime) -> None:
        if key is None:
            return
        until = self._locks.get(key)
        if until is None:
            return
        if until > now:
            raise self._refuse(key, until, now)
        del self._locks[key]

    async def admit(self, address: str | None, account: str) -> Admission:
        """Count this attempt, or raise ``TooManyAttempts`` (nothing hashed, nothing counted)."""
        now = self._clock()
        ip_key = address_key(address)
        account_key = f"account:{account}"
        self._remembered(ip_key, now)
        self._remembered(account_key, now)
        await self._prune(now)
        policy = self._policy
        if ip_key is not None:
            seen = await self._store.attempt(ip_key, now, IP_WINDOW_SECONDS)
            if seen.locked_until is not None:
                raise self._refuse(ip_key, seen.locked_until, now)
            if seen.count >= policy.ip_limit:
                # The limit-th attempt goes ahead; the address is closed until its minute ends.
                until = now + timedelta(seconds=IP_WINDOW_SECONDS)
                await self._store.lock(ip_key, until)
                if seen.count > policy.ip_limit:  # others got in first, concurrently
                    raise self._refuse(ip_key, until, now)
        seen = await self._store.attempt(account_key, now, ACCOUNT_WINDOW_SECONDS)
        if seen.locked_until is not None:
            if ip_key is not None:
                await self._store.refund(ip_key)
            raise self._refuse(account_key, seen.locked_until, now)
        if seen.count >= policy.free_failures:
            doubling = min(seen.count - policy.free_failures, 30)
            lock = min(2**doubling, policy.max_lock_seconds)
            await self._store.lock(account_key, now + timedelta(seconds=lock))
        return Admission(ip_key, account_key)

    async def succeeded(self, admission: Admission) -> None:
        self._locks.pop(admission.account_key, None)
        await self._store.clear(admission.account_key)
        if admission.address_key is not None:
            await self._store.refund(admission.address_key)

    async def abandoned(self, admission: Admission) -> None:
        """The attempt ended without an answer about the password (the database failed, the
        request was cancelled): it does not count. Best effort: the store may be what failed."""
        try:
            await self._store.refund(admission.account_key)
            if admission.address_key is not None:
                await self._store.refund(admission.address_key)
        except Exception:  # noqa: BLE001, S110 - the original error is the one to report
            pass

    async def _prune(self, now: datetime) -> None:
        if self._next_prune is not None and now < self._next_prune:
            return
        self._next_prune = now + _PRUNE_EVERY
        await self._store.prune(now - _PRUNE_AFTER)
