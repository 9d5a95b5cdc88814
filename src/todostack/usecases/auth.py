"""Registration, sign-in, sessions and turning a token back into a principal.

Every token names a session kept in the database. Signing out ends that session; a password
change, "sign out everywhere" and ``todostack user revoke`` end all of a user's. Each use of a
token checks its session, but a worker trusts what it last saw for ``session_check_seconds``
(one dictionary lookup on the hot path); a worker that ends a session forgets it at once, others
within that many seconds.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Container
from dataclasses import dataclass
from datetime import datetime, timedelta

from todostack.domain import AuthenticationFailed, Forbidden, Invalid, Principal, TodoList, User
from todostack.domain.lists import DEFAULT_LIST_NAME
from todostack.domain.users import email_errors, normalize_email, normalize_password, password_errors
from todostack.usecases.idempotency import Created, fingerprint, run_idempotent
from todostack.usecases.passwords import PasswordCheck
from todostack.usecases.ports import (
    Clock,
    IdGenerator,
    PasswordHasher,
    Session,
    TokenClaims,
    TokenCodec,
    UnitOfWorkFactory,
)
from todostack.usecases.signin_throttle import SignInThrottle

__all__ = ["ANONYMOUS_SCOPE", "AuthService", "IssuedToken"]

# Idempotency keys sent without credentials (registration) share one scope.
ANONYMOUS_SCOPE = ""
_MAX_REMEMBERED_SESSIONS = 100_000


def _new_session_id() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    issued_at: datetime
    expires_at: datetime
    user_id: str


@dataclass(frozen=True, slots=True)
class _Seen:
    user_id: str
    active: bool
    checked_at: float


class AuthService:
    # Runs on every authenticated request: a span each would double the spans of a trace.
    untraced = frozenset({"principal_for_token"})

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        tokens: TokenCodec,
        clock: Clock,
        ids: IdGenerator,
        token_ttl: timedelta,
        *,
        throttle: SignInThrottle | None = None,
        common_passwords: Container[str] = frozenset(),
        session_check_seconds: float = 0.0,
        session_ids: IdGenerator = _new_session_id,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._passwords = PasswordCheck(uow, hasher, throttle)
        self._tokens = tokens
        self._clock = clock
        self._ids = ids
        self._ttl = token_ttl
        self._common = common_passwords
        self._check_every = session_check_seconds
        self._session_ids = session_ids
        self._monotonic = monotonic
        self._seen: dict[str, _Seen] = {}
        self._next_prune: datetime | None = None

    async def register(self, email: str, password: str, idempotency_key: str | None = None) -> Created[User]:
        """Create an account. A taken email gets the same answer as a new one (an account that
        is never stored), so registering tells nobody who has an account here."""
        email = normalize_email(email)
        password = normalize_password(password)
        errors = email_errors(email) + password_errors(password, self._common)
        if errors:
            raise Invalid(errors)
        password_hash = await self._hasher.hash(password)
        now = self._clock()
        # Registration keys share one anonymous scope: the password is in the fingerprint (as a
        # keyed digest, useless without the server's secret), so a key replays an account only
        # to whoever knows its password.
        digest = fingerprint("register", (email, self._tokens.digest(password)))

        async with self._uow(write=True) as uow:

            async def create() -> User:
                user = User(self._ids(), email, password_hash, now)
                if await uow.users.get_by_email(email) is not None:
                    return user  # looks created; nothing is stored
                await uow.users.add(user)
                await uow.lists.add(TodoList(self._ids(), user.id, DEFAULT_LIST_NAME, now, now))
                return user

            async def exists(user: User) -> bool:
                return await uow.users.get_by_email(user.email) is not None

            return await run_idempotent(
                uow,
                scope=ANONYMOUS_SCOPE,
                key=idempotency_key,
                digest=digest,
                now=now,
                result_type=User,
                create=create,
                exists=exists,
            )

    async def authenticate(self, email: str, password: str, address: str | None = None) -> IssuedToken:
        """Sign in: a new session and its token. ``address`` is the client's, for throttling."""
        user = await self._passwords.owner(email.strip().lower(), password, address)
        return await self._open_session(user.id)

    async def _open_session(self, user_id: str) -> IssuedToken:
        now = self._clock()
        session = Session(self._session_ids(), user_id, now, now + self._ttl)
        async with self._uow(write=True, autocommit=True) as uow:
            await uow.sessions.add(session)
            await uow.commit()
        if self._next_prune is None or now >= self._next_prune:
            self._next_prune = now + timedelta(minutes=10)
            async with self._uow(write=True, autocommit=True) as uow:
                await uow.sessions.prune(now - timedelta(days=1))
                await uow.commit()
        claims = TokenClaims(user_id, session.id, int(now.timestamp()), int(session.expires_at.timestamp()))
        token = self._tokens.issue(claims)
        return IssuedToken(token, now, session.expires_at, user_id)

    async def _claims(self, token: str) -> TokenClaims:
        claims = self._tokens.verify(token, self._clock())
        if claims is None:
            raise AuthenticationFailed("the bearer token is invalid or has expired")
        return claims

    async def principal_for_token(self, token: str) -> Principal:
        """Cheap enough for every request: one HMAC and, at most every ``session_check_seconds``
        per session and worker, one primary-key read."""
        claims = await self._claims(token)
        seen = self._seen.get(claims.session_id)
        at = self._monotonic()
        if seen is None or (seen.active and at - seen.checked_at >= self._check_every):
            async with self._uow() as uow:
                owner = await uow.sessions.active_user(claims.session_id, self._clock())
            seen = _Seen(claims.user_id, owner == claims.user_id, at)
            if len(self._seen) >= _MAX_REMEMBERED_SESSIONS:
                self._seen.clear()
            self._seen[claims.session_id] = seen
        if not seen.active:
            raise AuthenticationFailed("this session has ended; sign in again")
        return Principal(claims.user_id)

    async def sign_out(self, token: str) -> None:
        """End the session this token names (an invalid or ended token: nothing to do)."""
        claims = self._tokens.verify(token, self._clock())
        if claims is None:
            return
        async with self._uow(write=True, autocommit=True) as uow:
            await uow.sessions.revoke(claims.session_id, self._clock())
            await uow.commit()
        self._seen[claims.session_id] = _Seen(claims.user_id, False, self._monotonic())

    async def sign_out_everywhere(self, principal: Principal) -> int:
        """End every session of the caller's; return how many were open."""
        return await self._revoke_all(principal.user_id)

    async def _revoke_all(self, user_id: str) -> int:
        async with self._uow(write=True, autocommit=True) as uow:
            ended = await uow.sessions.revoke_all(user_id, self._clock())
            await uow.commit()
        self._forget_user(user_id)
        return ended

    def _forget_user(self, user_id: str) -> None:
        at = self._monotonic()
        for session_id, seen in list(self._seen.items()):
            if seen.user_id == user_id:
                self._seen[session_id] = _Seen(user_id, False, at)

    async def change_password(
        self, principal: Principal, current: str, new: str, address: str | None = None
    ) -> IssuedToken:
        """Check the current password (throttled like a sign-in), store the new one, end every
        session, and open a new one for the caller."""
        user = await self.current_user(principal)
        try:
            await self._passwords.owner(user.email, current, address)
        except AuthenticationFailed:
            # The caller is signed in: a 401 would read as "signed out".
            raise Forbidden("current_password is not the current password") from None
        new = normalize_password(new)
        errors = password_errors(new, self._common)
        if errors:
            raise Invalid(errors)
        password_hash = await self._hasher.hash(new)
        async with self._uow(write=True) as uow:
            await uow.users.set_password_hash(user.id, password_hash)
            await uow.sessions.revoke_all(user.id, self._clock())
            await uow.commit()
        self._forget_user(user.id)
        return await self._open_session(user.id)

    async def revoke_user(self, email: str) -> int | None:
        """End every session of the account with this email (an operator's command); ``None``
        when there is no such account."""
        async with self._uow() as uow:
            user = await uow.users.get_by_email(email.strip().lower())
        if user is None:
            return None
        return await self._revoke_all(user.id)

    async def has_account(self, email: str) -> bool:
        """For operators' tools only: the API never tells."""
        async with self._uow() as uow:
            return await uow.users.get_by_email(email.strip().lower()) is not None

    async def current_user(self, principal: Principal) -> User:
        async with self._uow() as uow:
            user = await uow.users.get(principal.user_id)
        if user is None:
            raise AuthenticationFailed("the account behind this token no longer exists")
        return user
