"""The todo domain: entities and the errors they raise. Standard library only."""

from todostack.domain.changes import Change, ChangeKind, Entity
from todostack.domain.errors import (
    AuthenticationFailed,
    Conflict,
    FieldError,
    Forbidden,
    IdempotencyKeyReused,
    Invalid,
    NotFound,
    PreconditionFailed,
    QuotaExceeded,
    TodoError,
    TooManyAttempts,
)
from todostack.domain.lists import TodoList
from todostack.domain.todos import Priority, Todo
from todostack.domain.users import Principal, User

__all__ = [
    "AuthenticationFailed",
    "Change",
    "ChangeKind",
    "Conflict",
    "Entity",
    "FieldError",
    "Forbidden",
    "IdempotencyKeyReused",
    "Invalid",
    "NotFound",
    "PreconditionFailed",
    "Principal",
    "Priority",
    "QuotaExceeded",
    "Todo",
    "TodoError",
    "TodoList",
    "TooManyAttempts",
    "User",
]
