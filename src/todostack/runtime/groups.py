"""The settings of the process, declared once (``runtime.declare``): where it listens, its database, its
secrets, its runtime. What each request may use is in ``request_settings``; ``Settings`` gathers both."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from todostack.runtime.declare import SettingsError, number, on_off, one_of, setting, size, switch, text, whole

__all__ = ["DatabaseSettings", "RuntimeSettings", "SecuritySettings", "ServerSettings"]

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
    plan_cache_mode: str = setting(
        "TODOSTACK_DB_PLAN_CACHE_MODE",
        "auto",
        "PostgreSQL's `plan_cache_mode` for the service's connections. `force_custom_plan` plans every"
        " statement with its arguments: for owners with tens of thousands of todos, whose list pages and"
        " searches a generic plan sorts whole; it costs get-one a planning per request"
        " (see [benchmarks](docs/benchmarks.md#cost-as-the-data-grows)). Ignored when prepared statements are off",
        one_of("auto", "force_custom_plan"),
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
