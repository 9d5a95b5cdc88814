"""Use cases: the business rules, and the ports (protocols) they need from adapters."""

from todostack.usecases.auth import AuthService, IssuedToken
from todostack.usecases.changes import ChangeHub, ChangePage, ChangeService
from todostack.usecases.commands import (
    UNSET,
    NewList,
    NewTodo,
    TodoChanges,
    VersionCheck,
)
from todostack.usecases.idempotency import Created
from todostack.usecases.lists import ListService
from todostack.usecases.queries import Page, SortField, TodoFilter
from todostack.usecases.todobackend import TodoBackendService
from todostack.usecases.todos import TodoService

__all__ = [
    "UNSET",
    "AuthService",
    "ChangeHub",
    "ChangePage",
    "ChangeService",
    "Created",
    "IssuedToken",
    "ListService",
    "NewList",
    "NewTodo",
    "Page",
    "SortField",
    "TodoBackendService",
    "TodoChanges",
    "TodoFilter",
    "TodoService",
    "VersionCheck",
]
