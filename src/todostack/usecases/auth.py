"""Registration, sign-in and turning a token back into a principal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from todostack.domain import (
    AuthenticationFailed,
    Conflict,
    FieldError,
    Invalid,
    Principal,
    TodoList,
    User,
)
from todostack.domain.users import normalize_email, validate_password
from todostack.usecases.idempotency import Created, fingerprint, present, run_idempotent
from todostack.usecases.ports import (
    Clock,
    IdGenerator,
    PasswordHasher,
    TokenCodec,
    UnitOfWorkFactory,
)

__all__ = ["ANONYMOUS_SCOPE", "DEFAULT_LIST_NAME", "AuthService", "IssuedToken"]

DEFAULT_LIST_NAME = "Inbox"
# Idempotency keys sent without credentials (registration) share one scope.
ANONYMOUS_SCOPE = ""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    issued_at: datetime
    expires_at: datetime
    user_id: str


class AuthService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        tokens: TokenCodec,
        clock: Clock,
        ids: IdGenerator,
        token_ttl: timedelta,
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._tokens = tokens
        self._clock = clock
        self._ids = ids
        self._ttl = token_ttl
        # Verifying a password for an unknown email still costs one hash, so response time
        # does not tell which emails are registered.
        self._dummy_hash: str | None = None

    async def register(self, email: str, password: str, idempotency_key: str | None = None) -> Created[User]:
        errors: list[FieldError] = []
        email = normalize_email(email, errors)
        validate_password(password, errors)
        if errors:
            raise Invalid(errors)
        password_hash = await self._hasher.hash(password)
        now = self._clock()
        # The password stays out of the fingerprint: it is stored, and a digest of a password
        # would be a weak password hash at rest.
        digest = fingerprint("register", email)

        async with self._uow(write=True) as uow:

            async def create() -> User:
                if await uow.users.get_by_email(email) is not None:
                    raise Conflict("an account with this email already exists")
                user = User(self._ids(), email, password_hash, now)
                await uow.users.add(user)
                await uow.lists.add(TodoList(self._ids(), user.id, DEFAULT_LIST_NAME, now, now))
                return user

            return await run_idempotent(
                uow,
                scope=ANONYMOUS_SCOPE,
                key=idempotency_key,
                digest=digest,
                now=now,
                result_type=User,
                create=create,
                exists=lambda user: present(uow.users.get(user.id)),
            )

    async def authenticate(self, email: str, password: str) -> IssuedToken:
        email = email.strip().lower()
        async with self._uow() as uow:
            user = await uow.users.get_by_email(email)
        if user is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self._hasher.hash("not-a-real-password")
            await self._hasher.verify(self._dummy_hash, password)
            raise AuthenticationFailed("wrong email or password")
        if not await self._hasher.verify(user.password_hash, password):
            raise AuthenticationFailed("wrong email or password")
        return self.issue_token(user.id)

    def issue_token(self, user_id: str) -> IssuedToken:
        now = self._clock()
        expires_at = now + self._ttl
        return IssuedToken(self._tokens.issue(user_id, expires_at), now, expires_at, user_id)

    def principal_for_token(self, token: str) -> Principal:
        """Cheap enough for every request: no database, one HMAC."""
        user_id = self._tokens.verify(token, self._clock())
        if user_id is None:
            raise AuthenticationFailed("the bearer token is invalid or has expired")
        return Principal(user_id)

    async def current_user(self, principal: Principal) -> User:
        async with self._uow() as uow:
            user = await uow.users.get(principal.user_id)
        if user is None:
            raise AuthenticationFailed("the account behind this token no longer exists")
        return user
