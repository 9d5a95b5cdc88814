"""What the HTTP layer needs from the rest of the system, handed in by ``bootstrap``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from todostack.delivery.http.asgi.answers import Compression
from todostack.delivery.http.asgi.budgets import Budgets
from todostack.delivery.http.asgi.lifecycle import ShutdownPolicy
from todostack.usecases import AuthService, ChangeHub, ChangeService, ListService, TodoBackendService, TodoService

__all__ = ["FeedOptions", "HttpConfig", "Services"]


@dataclass(frozen=True, slots=True)
class Services:
    auth: AuthService
    lists: ListService
    todos: TodoService
    todobackend: TodoBackendService
    changes: ChangeService
    feed: ChangeHub
    # Raises when the database cannot serve requests.
    check_ready: Callable[[], Awaitable[None]]
    # A database query that takes this many seconds (for the test-only routes).
    db_sleep: Callable[[float], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class FeedOptions:
    """The change stream's heartbeat, retry hint and per-worker limit (from the settings)."""

    heartbeat_seconds: float = 15.0
    retry_ms: int = 2000
    max_streams: int = 2000


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """Built by ``bootstrap`` from the settings, where every default is declared."""

    todobackend_enabled: bool
    max_body_bytes: int
    test_endpoints: bool
    budgets: Budgets
    max_inflight: int
    shutdown: ShutdownPolicy
    admin_token: str | None  # /debug/pprof is mounted only with an admin token, and answers only to it
    # /metrics on the public listener to anyone (development); else only to the admin token.
    metrics_public: bool = False
    # Take over SIGTERM/SIGINT for a graceful drain (in the server's workers, not in tests).
    handle_signals: bool = False
    debug: bool = False
    # TODOSTACK_TRUSTED_PROXIES: only these peers' X-Forwarded-* are believed (``asgi.proxies``).
    trusted_proxies: tuple[str, ...] = ()
    compression: Compression = field(default_factory=Compression)
    feed: FeedOptions = FeedOptions()
    # TODOSTACK_HOT_ROUTES: the hottest routes answered without Litestar's machinery (``api.hot``).
    hot_routes: bool = True
