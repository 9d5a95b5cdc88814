"""Is this the password of that account? Throttled before any hashing, as slow for an unknown
email as for a known one, and accepting hashes made before passwords were normalised."""

from __future__ import annotations

import asyncio

from todostack.domain import AuthenticationFailed, User
from todostack.domain.users import normalize_password
from todostack.usecases.ports import PasswordHasher, UnitOfWorkFactory
from todostack.usecases.signin_throttle import SignInThrottle

__all__ = ["PasswordCheck"]

_WRONG = "wrong email or password"


class PasswordCheck:
    def __init__(self, uow: UnitOfWorkFactory, hasher: PasswordHasher, throttle: SignInThrottle | None) -> None:
        self._uow = uow
        self._hasher = hasher
        self._throttle = throttle
        # Verifying a password for an unknown email still costs one hash, so response time
        # does not tell which emails are registered.
        self._dummy_hash: str | None = None

    async def owner(self, email: str, password: str, address: str | None) -> User:
        """The user whose password this is (``AuthenticationFailed`` else); ``address`` is the
        client's, for throttling."""
        admission = None if self._throttle is None else await self._throttle.admit(address, email)
        try:
            user = await self._verify(email, password)
        except AuthenticationFailed:
            raise
        except BaseException:
            if admission is not None and self._throttle is not None:
                await asyncio.shield(self._throttle.abandoned(admission))
            raise
        if admission is not None and self._throttle is not None:
            await self._throttle.succeeded(admission)
        return user

    async def _verify(self, email: str, password: str) -> User:
        async with self._uow() as uow:
            user = await uow.users.get_by_email(email)
        if user is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self._hasher.hash("not-a-real-password")
            await self._hasher.verify(self._dummy_hash, password)
            raise AuthenticationFailed(_WRONG)
        normalized = normalize_password(password)
        ok = await self._hasher.verify(user.password_hash, normalized)
        if not ok and normalized != password:
            # Accounts made before passwords were normalised hashed them as typed.
            ok = await self._hasher.verify(user.password_hash, password)
        if not ok:
            raise AuthenticationFailed(_WRONG)
        return user
