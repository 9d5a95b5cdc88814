"""Ports: what the use cases need from the outside world, declared by the use cases.

Adapters (in-memory, SQLite, PostgreSQL, Argon2, HMAC tokens) implement these protocols;
``bootstrap`` hands the implementations in. ``repositories`` keeps the data, ``sign_in`` holds
what identifying a caller needs, ``unit_of_work`` binds the repositories into one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from todostack.usecases.ports.repositories import (
    ChangeRepository,
    IdempotencyRepository,
    ListPosition,
    ListRepository,
    Snapshot,
    StoredClaim,
    TodoRepository,
    UserRepository,
)
from todostack.usecases.ports.sign_in import (
    Attempt,
    AttemptStore,
    PasswordHasher,
    Session,
    SessionRepository,
    TokenClaims,
    TokenCodec,
)
from todostack.usecases.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

__all__ = [
    "Attempt",
    "AttemptStore",
    "ChangeRepository",
    "Clock",
    "IdGenerator",
    "IdempotencyRepository",
    "ListPosition",
    "ListRepository",
    "PasswordHasher",
    "Session",
    "SessionRepository",
    "Snapshot",
    "StoredClaim",
    "TodoRepository",
    "TokenClaims",
    "TokenCodec",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
]

Clock = Callable[[], datetime]
IdGenerator = Callable[[], str]
