"""The settings of each concern, declared once (``runtime.declare``); ``Settings`` gathers them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from todostack.runtime.declare import SettingsError, number, on_off, one_of, setting, size, switch, text, whole

__all__ = [
    "DEFAULT_SECRET",
    "DatabaseSettings",
    "RequestSettings",
    "RuntimeSettings",
    "SecuritySettings",
    "ServerSettings",
]

DEFAULT_SECRET = "insecure-development-secret-change-me"  # noqa: S105 - refused in production
_RATIO = "a number between 0 and 1"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = setting("TODOSTACK_HOST", "127.0.0.1", "address to listen on", text)
    port: int = setting("TODOSTACK_PORT", 8000, "port to listen on", whole(0, 65535))
    workers: int | None = setting(
        "TODOSTACK_WORKERS", None, "worker processes", whole(1, 256), default_doc="one per effective CPU"
    )
    asgi_server: Literal["granian", "uvicorn"] = setting(
        "TODOSTACK_ASGI_SERVER",
        "granian",
        "`granian`, or `uvicorn` (a development dependency) to compare ([benchmarks](docs/benchmarks.md))",
        one_of("granian", "uvicorn"),
    )
    event_loop: Literal["uvloop", "asyncio"] = setting(
        "TODOSTACK_EVENT_LOOP",
        "uvloop",
        "the workers' event loop: `uvloop` (libuv, in C), or `asyncio` (the standard library's) to compare",
        one_of("uvloop", "asyncio"),
    )


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str = setting(
        "TODOSTACK_DATABASE_URL",
        "sqlite:///var/todostack.db",
        "`postgresql://…`, `sqlite:///relative.db`, `sqlite:////abs.db`, `memory://`",
        text,
    )
    pool_size: int = setting("TODOSTACK_DB_POOL_SIZE", 10, "connections per worker", whole(1, 1000))
    prepared_statements: bool = setting(
        "TODOSTACK_DB_PREPARED_STATEMENTS",
        True,
        "`off` behind PgBouncer in transaction pooling: no named prepared statements and no settings sent"
        " at connection start-up (the statement timeout goes in each transaction); see [deploy](docs/deploy.md)",
        switch,
        show=on_off,
    )

    @property
    def dialect(self) -> Literal["postgresql", "sqlite", "memory"]:
        if self.url.startswith(("postgresql://", "postgres://")):
            return "postgresql"
        if self.url.startswith("sqlite://"):
            return "sqlite"
        if self.url.startswith("memory://"):
            return "memory"
        raise SettingsError(
            f"TODOSTACK_DATABASE_URL must start with postgresql://, sqlite:// or memory://, got {self.url!r}"
        )


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    secret_key: str = setting(
        "TODOSTACK_SECRET_KEY",
        DEFAULT_SECRET,
        "signs bearer tokens; production refuses to start without one of 32+ characters",
        text,
        default_doc="a development value",
    )
    token_ttl_seconds: int = setting(
        "TODOSTACK_TOKEN_TTL_SECONDS", 7 * 24 * 3600, "bearer token lifetime", whole(60, 365 * 24 * 3600)
    )
    argon2_time_cost: int = setting("TODOSTACK_ARGON2_TIME_COST", 3, "Argon2id time cost", whole(1, 100))
    argon2_memory_kib: int = setting(
        "TODOSTACK_ARGON2_MEMORY_KIB", 65536, "Argon2id memory cost", whole(32, 4 * 1024 * 1024)
    )


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """Container awareness (see ``runtime.sizing``) and the memory guard."""

    memory_limit: int | None = setting(
        "TODOSTACK_MEMORY_LIMIT", None, "soft memory limit for all workers (`512MiB`, `2GiB`, bytes)", size
    )
    memory_limit_ratio: float = setting(
        "TODOSTACK_MEMORY_LIMIT_RATIO",
        0.9,
        "without an explicit limit: this share of the cgroup memory limit",
        number(0, 1, _RATIO, above_low=True),
        show=repr,
    )
    db_connection_budget: int = setting(
        "TODOSTACK_DB_CONNECTION_BUDGET",
        80,
        "PostgreSQL connections all workers together may hold: workers times pool stays within it",
        whole(1, 100_000),
    )
    gc_threshold: int | None = setting(
        "TODOSTACK_GC_THRESHOLD",
        None,
        "generation-0 garbage collection threshold",
        whole(1, 10_000_000),
        default_doc="CPython's",
    )
    gc_freeze: bool = setting(
        "TODOSTACK_GC_FREEZE",
        True,
        "`gc.freeze()` in the server process before forking the workers (copy-on-write sharing)",
        switch,
        show=on_off,
    )
    memory_check_seconds: int = setting(
        "TODOSTACK_MEMORY_CHECK_SECONDS", 5, "how often each worker checks its memory", whole(1, 3600)
    )
    malloc_arena_max: int = setting(
        "TODOSTACK_MALLOC_ARENA_MAX",
        2,
        "glibc malloc arenas per process (as `MALLOC_ARENA_MAX`); `0` keeps glibc's default of 8 per core",
        whole(0, 1024),
    )
    malloc_trim_seconds: float = setting(
        "TODOSTACK_MALLOC_TRIM_SECONDS",
        5.0,
        "how often each worker hands freed heap back to the kernel (`malloc_trim`); `0`: never",
        number(0, 3600),
        show=repr,
    )


def _seconds(env: str, default: float, doc: str, low: float, high: float) -> float:
    return setting(env, default, doc, number(low, high), show=repr)


@dataclass(frozen=True, slots=True)
class RequestSettings:
    """Per-request budgets, load shedding, graceful shutdown and where alerts go."""

    read_timeout_seconds: float = _seconds(
        "TODOSTACK_READ_TIMEOUT_SECONDS", 5.0, "each read's server-side budget (GET/HEAD/OPTIONS)", 0.01, 3600
    )
    write_timeout_seconds: float = _seconds(
        "TODOSTACK_WRITE_TIMEOUT_SECONDS", 10.0, "each write's server-side budget", 0.01, 3600
    )
    max_inflight: int = setting(
        "TODOSTACK_MAX_INFLIGHT",
        256,
        "requests one worker serves at once; past it, 503 + `Retry-After` at once",
        whole(1, 1_000_000),
    )
    db_acquire_timeout_seconds: float = _seconds(
        "TODOSTACK_DB_ACQUIRE_TIMEOUT_SECONDS",
        2.0,
        "longest wait for a pooled database connection; past it, 503 + `Retry-After`",
        0.001,
        600,
    )
    shutdown_delay_seconds: float = _seconds(
        "TODOSTACK_SHUTDOWN_DELAY_SECONDS",
        1.0,
        "after SIGTERM, how long readiness is 503 before the listener closes (pre-stop)",
        0,
        600,
    )
    shutdown_grace_seconds: float = _seconds(
        "TODOSTACK_SHUTDOWN_GRACE_SECONDS",
        20.0,
        "then how long requests in flight may take before they are cancelled",
        0,
        3600,
    )
    alert_webhook_url: str | None = setting(
        "TODOSTACK_ALERT_WEBHOOK_URL",
        None,
        "Slack-compatible webhook for operational alerts (logged only without it)",
        text,
    )
