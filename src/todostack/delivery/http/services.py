"""What the HTTP layer needs from the rest of the system, handed in by ``bootstrap``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from todostack.usecases import AuthService, ListService, TodoBackendService, TodoService

__all__ = ["HttpConfig", "Services"]


@dataclass(frozen=True, slots=True)
class Services:
    auth: AuthService
    lists: ListService
    todos: TodoService
    todobackend: TodoBackendService
    # Raises when the database cannot serve requests.
    check_ready: Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class HttpConfig:
    todobackend_enabled: bool = True
    max_body_bytes: int = 1024 * 1024
    debug: bool = False
    test_endpoints: bool = False
