"""The settings of each concern, declared once (``runtime.declare``); ``Settings`` gathers them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from todostack.runtime.declare import SettingsError, number, on_off, one_of, setting, size, switch, text, whole

__all__ = [
    "AuthSettings",
    "DatabaseSettings",
    "FeedSettings",
    "LimitSettings",
    "RequestSettings",
    "RuntimeSettings",
    "SecuritySettings",
    "ServerSettings",
]

_RATIO = "a number between 0 and 1"


def _networks(raw: str) -> tuple[str, ...]:
    """``TODOSTACK_TRUSTED_PROXIES``: networks (CIDR) or addresses, comma-separated, as normalised CIDRs."""
    networks = []
    for item in raw.split(","):
        if item.strip():
            try:
                networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
            except ValueError:
                raise ValueError(
                    f"must be IP networks (CIDR, e.g. 10.0.0.0/8) or addresses, got {item.strip()!r}"
                ) from None
    return tuple(networks)


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
    trusted_proxies: tuple[str, ...] = setting(
        "TODOSTACK_TRUSTED_PROXIES",
        (),
        "comma-separated CIDRs of the reverse proxies in front (e.g. `10.0.0.0/8`): only from these peers are "
        "`X-Forwarded-For/-Proto/-Host` believed ([edge](docs/deploy.md#edge-traefik-in-front))",
        _networks,
        show=",".join,
        default_doc="none: forwarded headers are ignored",
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
        "",
        "signs bearer tokens (32+ characters); unset, SQLite keeps a generated one beside the database, "
        "while PostgreSQL and production refuse to start",
        text,
        default_doc="none",
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
    probes: bool = setting(
        "TODOSTACK_PROBES",
        True,
        "the service's USDT probes for bpftrace (`docs/ebpf.md`); off: the library is never loaded",
        switch,
        show=on_off,
    )
    probes_library: str | None = setting(
        "TODOSTACK_PROBES_LIB",
        None,
        "the USDT probe library to load",
        text,
        default_doc="the one beside the package, else built once into the user's cache",
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
    compress_min_bytes: int = setting(
        "TODOSTACK_COMPRESS_MIN_BYTES",
        1024,
        "gzip JSON, HTML, JS and CSS answers of at least this many bytes when the client accepts it (0: never)",
        whole(0, 1 << 30),
    )


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """Bounded resources (OWASP API4): per-account quotas and where ``/metrics`` is served."""

    quota_lists: int = setting(
        "TODOSTACK_QUOTA_LISTS",
        500,
        "most lists one account may hold; past it, 403 `quota-exceeded` (one page of lists holds them all)",
        whole(1, 1_000_000),
    )
    quota_todos: int = setting(
        "TODOSTACK_QUOTA_TODOS",
        10_000,
        "most todos one account may hold in all its lists; past it, 403 `quota-exceeded`",
        whole(1, 100_000_000),
    )
    metrics_port: int = setting(
        "TODOSTACK_METRICS_PORT",
        0,
        "port of a separate listener (on `TODOSTACK_HOST`) that serves only `/metrics`, to anyone who "
        "reaches it (the chart and compose use 9464); `0`: none",
        whole(0, 65535),
    )
    metrics_public: bool = setting(
        "TODOSTACK_METRICS_PUBLIC",
        False,
        "also serve `/metrics` on the public listener to anyone (development); off, it answers only "
        "`Authorization: Bearer <TODOSTACK_ADMIN_TOKEN>` there, and 404 without an admin token",
        switch,
        show=on_off,
    )


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Sign-in throttling and server-side sessions (``docs/security.md``, "Authentication")."""

    signin_ip_limit: int = setting(
        "TODOSTACK_SIGNIN_IP_LIMIT",
        10,
        "failed sign-ins one client address may make per minute; past it, 429 + `Retry-After` until the minute ends",
        whole(1, 1_000_000),
    )
    signin_account_free_failures: int = setting(
        "TODOSTACK_SIGNIN_ACCOUNT_FREE_FAILURES",
        5,
        "failed sign-ins an account takes before each further one locks it (1 s, 2 s, 4 s, … doubling)",
        whole(1, 1000),
    )
    signin_account_max_lock_seconds: int = setting(
        "TODOSTACK_SIGNIN_ACCOUNT_MAX_LOCK_SECONDS",
        900,
        "the longest one lock of an account lasts",
        whole(1, 86_400),
    )
    redis_url: str | None = setting(
        "TODOSTACK_REDIS_URL",
        None,
        "`redis://…` or `rediss://…`: sign-in throttle counters in Redis instead of the database",
        text,
    )
    session_check_seconds: float = setting(
        "TODOSTACK_SESSION_CHECK_SECONDS",
        1.0,
        "how long a worker trusts its last look at a session (ended elsewhere: noticed within this); `0`: always",
        number(0, 60),
        show=repr,
    )


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """The change feed (``/api/v1/changes``): its streams, its wake-up and its retention."""

    max_streams: int = setting(
        "TODOSTACK_FEED_MAX_STREAMS",
        2000,
        "change streams one worker holds open (not counted in `TODOSTACK_MAX_INFLIGHT`); past it, 503",
        whole(0, 1_000_000),
    )
    heartbeat_seconds: float = _seconds(
        "TODOSTACK_FEED_HEARTBEAT_SECONDS",
        15.0,
        "a comment line on an idle change stream this often (keeps proxies from closing it)",
        0.05,
        3600,
    )
    retry_ms: int = setting(
        "TODOSTACK_FEED_RETRY_MS",
        2000,
        "the `retry:` hint a change stream gives browsers for reconnecting",
        whole(0, 600_000),
    )
    poll_seconds: float = _seconds(
        "TODOSTACK_FEED_POLL_SECONDS",
        0.1,
        "SQLite: how often a worker with open streams looks for other workers' changes; "
        "PostgreSQL: the fallback check beside LISTEN/NOTIFY, this times 50",
        0.01,
        60,
    )
    retention_seconds: int = setting(
        "TODOSTACK_FEED_RETENTION_SECONDS",
        7 * 24 * 3600,
        "changes older than this are pruned; a client further behind gets a `resync`",
        whole(1, 365 * 24 * 3600),
    )
    listen_url: str | None = setting(
        "TODOSTACK_FEED_LISTEN_URL",
        None,
        "PostgreSQL: the direct (never PgBouncer) URL of the connection that LISTENs for changes",
        text,
        default_doc="`TODOSTACK_DATABASE_URL`",
    )
