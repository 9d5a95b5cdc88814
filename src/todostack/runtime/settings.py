"""Settings, grouped per concern, read from ``TODOSTACK_*`` environment variables.

Nothing reads the environment at import time: the CLI builds one ``Settings`` and passes it on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from todostack.runtime.sizing import parse_bytes

__all__ = ["DEFAULT_SECRET", "ProfilingSettings", "Settings", "SettingsError"]

DEFAULT_SECRET = "insecure-development-secret-change-me"  # noqa: S105 - refused in production
DEFAULT_DATABASE_URL = "sqlite:///var/todostack.db"
MIN_SECRET_LENGTH = 32
Environment = Literal["development", "production", "test"]


class SettingsError(ValueError):
    """A setting has a value the service cannot run with."""


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _size(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        return parse_bytes(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None


def _float(env: Mapping[str, str], name: str, default: float, valid: Callable[[float], bool], expect: str) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isnan(value) or not valid(value):
        raise SettingsError(f"{name} must be {expect}, got {raw!r}")
    return value


def _ratio(env: Mapping[str, str], name: str, default: float) -> float:
    return _float(env, name, default, lambda v: 0 < v <= 1, "a number between 0 and 1")


def _seconds(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    return _float(env, name, default, lambda v: low <= v <= high, f"between {low:g} and {high:g} seconds")


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "on", "yes"):
        return True
    if raw in ("0", "false", "off", "no"):
        return False
    raise SettingsError(f"{name} must be on or off, got {raw!r}")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int | None = None  # None: one per effective CPU
    # granian ships; uvicorn (a development dependency) is there for the benchmark's comparison.
    asgi_server: Literal["granian", "uvicorn"] = "granian"
    # uvloop: the event loop in C (libuv); asyncio: the standard library's, to compare.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str = DEFAULT_DATABASE_URL
    pool_size: int = 10

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
    secret_key: str = DEFAULT_SECRET
    token_ttl_seconds: int = 7 * 24 * 3600
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """Container awareness (see ``runtime.sizing``) and the memory guard."""

    memory_limit: int | None = None  # bytes for all workers; None: ratio of the cgroup limit
    memory_limit_ratio: float = 0.9
    db_connection_budget: int = 80  # PostgreSQL connections all workers together may hold
    gc_threshold: int | None = None  # generation-0 threshold; None: CPython's default
    gc_freeze: bool = True  # gc.freeze() in the server process before it forks the workers
    memory_check_seconds: int = 5
    malloc_arena_max: int = 2  # glibc malloc arenas per process; 0: glibc's default (8 per core)
    malloc_trim_seconds: float = 5.0  # each worker hands freed heap back to the kernel this often; 0: never


@dataclass(frozen=True, slots=True)
class RequestSettings:
    """Per-request budgets, load shedding, graceful shutdown and where alerts go."""

    read_timeout_seconds: float = 5.0
    write_timeout_seconds: float = 10.0
    max_inflight: int = 256  # per worker; past it, 503 + Retry-After at once
    db_acquire_timeout_seconds: float = 2.0  # past it, 503 + Retry-After
    shutdown_delay_seconds: float = 1.0  # readiness 503 until the listener closes (pre-stop)
    shutdown_grace_seconds: float = 20.0  # then in-flight requests get this long to finish
    alert_webhook_url: str | None = None


@dataclass(frozen=True, slots=True)
class ProfilingSettings:
    """autoprof: threshold-triggered profiles (``TODOSTACK_AUTOPROF_*``) and ``/debug/pprof``."""

    enabled: bool = True
    interval_seconds: float = 5.0
    window_checks: int = 24  # CPU usage is averaged over this many checks (2 minutes by default)
    cpu_threshold: float = 0.75
    memory_threshold: float = 0.75
    lag_threshold_seconds: float = 0.5  # event-loop lag; 0 turns this trigger off
    throttle_threshold: float = 0.5  # share of CPU periods throttled over the window; 0: off
    suppress_checks: int = 12  # after a report, stay quiet this many checks
    checks_in_a_row: int = 1  # checks over the threshold before the first report
    cpu_seconds: float = 10.0
    cpu_hz: int = 100
    directory: str = "var/profiles"
    webhook_url: str | None = None
    report_timeout_seconds: float = 5.0
    tracemalloc_frames: int = 1
    heap_arm_ratio: float = 0.5  # tracemalloc starts at this share of the memory threshold; 0: always
    keep_reports: int = 50  # older reports are deleted from the directory
    admin_token: str | None = None  # /debug/pprof answers only with this bearer token; 404 without


def _profiling(env: Mapping[str, str]) -> ProfilingSettings:
    def share(name: str, default: float) -> float:
        return _float(env, name, default, lambda v: 0 <= v <= 1, "a number between 0 and 1 (0: off)")

    p = "TODOSTACK_AUTOPROF_"
    return ProfilingSettings(
        enabled=_bool(env, p + "ENABLED", True),
        interval_seconds=_seconds(env, p + "INTERVAL_SECONDS", 5.0, 0.05, 3600),
        window_checks=_int(env, p + "WINDOW_CHECKS", 24, 1, 10_000),
        cpu_threshold=_ratio(env, p + "CPU_THRESHOLD", 0.75),
        memory_threshold=_ratio(env, p + "MEMORY_THRESHOLD", 0.75),
        lag_threshold_seconds=_seconds(env, p + "LAG_THRESHOLD_SECONDS", 0.5, 0, 3600),
        throttle_threshold=share(p + "THROTTLE_THRESHOLD", 0.5),
        suppress_checks=_int(env, p + "SUPPRESS_CHECKS", 12, 0, 100_000),
        checks_in_a_row=_int(env, p + "CHECKS_IN_A_ROW", 1, 1, 10_000),
        cpu_seconds=_seconds(env, p + "CPU_SECONDS", 10.0, 0.1, 600),
        cpu_hz=_int(env, p + "CPU_HZ", 100, 1, 1000),
        directory=env.get(p + "DIR", "").strip() or "var/profiles",
        webhook_url=env.get(p + "WEBHOOK_URL", "").strip() or None,
        report_timeout_seconds=_seconds(env, p + "REPORT_TIMEOUT_SECONDS", 5.0, 0.1, 600),
        tracemalloc_frames=_int(env, p + "TRACEMALLOC_FRAMES", 1, 1, 100),
        heap_arm_ratio=share(p + "HEAP_ARM_RATIO", 0.5),
        keep_reports=_int(env, p + "KEEP", 50, 1, 100_000),
        admin_token=env.get("TODOSTACK_ADMIN_TOKEN", "").strip() or None,
    )


@dataclass(frozen=True, slots=True)
class Settings:
    env: Environment = "development"
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    requests: RequestSettings = field(default_factory=RequestSettings)
    profiling: ProfilingSettings = field(default_factory=ProfilingSettings)
    todobackend: bool = True
    todobackend_capacity: int = 1000
    # Routes that only tests may use (e.g. to allocate memory); refused in production.
    test_endpoints: bool = False
    max_body_bytes: int = 1024 * 1024
    log_level: str = "info"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        mode = env.get("TODOSTACK_ENV", "development").strip().lower() or "development"
        if mode not in ("development", "production", "test"):
            raise SettingsError(f"TODOSTACK_ENV must be development, production or test, got {mode!r}")
        production = mode == "production"
        workers_raw = env.get("TODOSTACK_WORKERS", "")
        asgi_server = env.get("TODOSTACK_ASGI_SERVER", "") or "granian"
        if asgi_server not in ("granian", "uvicorn"):
            raise SettingsError(f"TODOSTACK_ASGI_SERVER must be granian or uvicorn, got {asgi_server!r}")
        event_loop = env.get("TODOSTACK_EVENT_LOOP", "").strip().lower() or "uvloop"
        if event_loop not in ("uvloop", "asyncio"):
            raise SettingsError(f"TODOSTACK_EVENT_LOOP must be uvloop or asyncio, got {event_loop!r}")
        settings = cls(
            env=mode,  # type: ignore[arg-type]
            server=ServerSettings(
                host=env.get("TODOSTACK_HOST", "127.0.0.1") or "127.0.0.1",
                port=_int(env, "TODOSTACK_PORT", 8000, 0, 65535),
                workers=None if workers_raw == "" else _int(env, "TODOSTACK_WORKERS", 1, 1, 256),
                asgi_server=asgi_server,  # type: ignore[arg-type]
                event_loop=event_loop,  # type: ignore[arg-type]
            ),
            database=DatabaseSettings(
                url=env.get("TODOSTACK_DATABASE_URL", "") or DEFAULT_DATABASE_URL,
                pool_size=_int(env, "TODOSTACK_DB_POOL_SIZE", 10, 1, 1000),
            ),
            security=SecuritySettings(
                secret_key=env.get("TODOSTACK_SECRET_KEY", "") or DEFAULT_SECRET,
                token_ttl_seconds=_int(env, "TODOSTACK_TOKEN_TTL_SECONDS", 7 * 24 * 3600, 60, 365 * 24 * 3600),
                argon2_time_cost=_int(env, "TODOSTACK_ARGON2_TIME_COST", 3, 1, 100),
                argon2_memory_kib=_int(env, "TODOSTACK_ARGON2_MEMORY_KIB", 65536, 32, 4 * 1024 * 1024),
            ),
            runtime=RuntimeSettings(
                memory_limit=_size(env, "TODOSTACK_MEMORY_LIMIT"),
                memory_limit_ratio=_ratio(env, "TODOSTACK_MEMORY_LIMIT_RATIO", 0.9),
                db_connection_budget=_int(env, "TODOSTACK_DB_CONNECTION_BUDGET", 80, 1, 100_000),
                gc_threshold=None
                if not env.get("TODOSTACK_GC_THRESHOLD")
                else _int(env, "TODOSTACK_GC_THRESHOLD", 700, 1, 10_000_000),
                memory_check_seconds=_int(env, "TODOSTACK_MEMORY_CHECK_SECONDS", 5, 1, 3600),
                gc_freeze=_bool(env, "TODOSTACK_GC_FREEZE", True),
                malloc_arena_max=_int(env, "TODOSTACK_MALLOC_ARENA_MAX", 2, 0, 1024),
                malloc_trim_seconds=_seconds(env, "TODOSTACK_MALLOC_TRIM_SECONDS", 5.0, 0, 3600),
            ),
            requests=RequestSettings(
                read_timeout_seconds=_seconds(env, "TODOSTACK_READ_TIMEOUT_SECONDS", 5.0, 0.01, 3600),
                write_timeout_seconds=_seconds(env, "TODOSTACK_WRITE_TIMEOUT_SECONDS", 10.0, 0.01, 3600),
                max_inflight=_int(env, "TODOSTACK_MAX_INFLIGHT", 256, 1, 1_000_000),
                db_acquire_timeout_seconds=_seconds(env, "TODOSTACK_DB_ACQUIRE_TIMEOUT_SECONDS", 2.0, 0.001, 600),
                shutdown_delay_seconds=_seconds(env, "TODOSTACK_SHUTDOWN_DELAY_SECONDS", 1.0, 0, 600),
                shutdown_grace_seconds=_seconds(env, "TODOSTACK_SHUTDOWN_GRACE_SECONDS", 20.0, 0, 3600),
                alert_webhook_url=(env.get("TODOSTACK_ALERT_WEBHOOK_URL", "").strip() or None),
            ),
            profiling=_profiling(env),
            todobackend=_bool(env, "TODOSTACK_TODOBACKEND", not production),
            todobackend_capacity=_int(env, "TODOSTACK_TODOBACKEND_CAPACITY", 1000, 1, 1_000_000),
            test_endpoints=_bool(env, "TODOSTACK_TEST_ENDPOINTS", False),
            log_level=(env.get("TODOSTACK_LOG_LEVEL", "info") or "info").lower(),
        )
        settings.database.dialect  # noqa: B018 - validates the URL's scheme early
        return settings

    def with_overrides(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        workers: int | None = None,
        database_url: str | None = None,
    ) -> Settings:
        """Command-line flags win over the environment."""
        server = replace(
            self.server,
            host=host if host is not None else self.server.host,
            port=port if port is not None else self.server.port,
            workers=workers if workers is not None else self.server.workers,
        )
        database = replace(self.database, url=database_url) if database_url else self.database
        return replace(self, server=server, database=database)

    def problems_for_start(self) -> list[str]:
        """Reasons the service must not start with these settings."""
        problems = []
        if self.env == "production" and self.test_endpoints:
            problems.append("TODOSTACK_TEST_ENDPOINTS must be off in production")
        if self.env == "production":
            key = self.security.secret_key
            if key == DEFAULT_SECRET:
                problems.append("TODOSTACK_SECRET_KEY is not set: production needs a secret of its own")
            elif len(key) < MIN_SECRET_LENGTH:
                problems.append(f"TODOSTACK_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters in production")
        return problems

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings (for worker processes)."""
        env = {
            "TODOSTACK_ENV": self.env,
            "TODOSTACK_HOST": self.server.host,
            "TODOSTACK_PORT": str(self.server.port),
            "TODOSTACK_ASGI_SERVER": self.server.asgi_server,
            "TODOSTACK_EVENT_LOOP": self.server.event_loop,
            "TODOSTACK_DATABASE_URL": self.database.url,
            "TODOSTACK_DB_POOL_SIZE": str(self.database.pool_size),
            "TODOSTACK_SECRET_KEY": self.security.secret_key,
            "TODOSTACK_TOKEN_TTL_SECONDS": str(self.security.token_ttl_seconds),
            "TODOSTACK_ARGON2_TIME_COST": str(self.security.argon2_time_cost),
            "TODOSTACK_ARGON2_MEMORY_KIB": str(self.security.argon2_memory_kib),
            "TODOSTACK_TODOBACKEND": "on" if self.todobackend else "off",
            "TODOSTACK_TODOBACKEND_CAPACITY": str(self.todobackend_capacity),
            "TODOSTACK_LOG_LEVEL": self.log_level,
            "TODOSTACK_TEST_ENDPOINTS": "on" if self.test_endpoints else "off",
        }
        if self.server.workers is not None:
            env["TODOSTACK_WORKERS"] = str(self.server.workers)
        rt = self.runtime
        env["TODOSTACK_MEMORY_LIMIT_RATIO"] = repr(rt.memory_limit_ratio)
        env["TODOSTACK_DB_CONNECTION_BUDGET"] = str(rt.db_connection_budget)
        env["TODOSTACK_MEMORY_CHECK_SECONDS"] = str(rt.memory_check_seconds)
        if rt.memory_limit is not None:
            env["TODOSTACK_MEMORY_LIMIT"] = str(rt.memory_limit)
        if rt.gc_threshold is not None:
            env["TODOSTACK_GC_THRESHOLD"] = str(rt.gc_threshold)
        env["TODOSTACK_GC_FREEZE"] = "on" if rt.gc_freeze else "off"
        env["TODOSTACK_MALLOC_ARENA_MAX"] = str(rt.malloc_arena_max)
        env["TODOSTACK_MALLOC_TRIM_SECONDS"] = repr(rt.malloc_trim_seconds)
        rq = self.requests
        env["TODOSTACK_READ_TIMEOUT_SECONDS"] = repr(rq.read_timeout_seconds)
        env["TODOSTACK_WRITE_TIMEOUT_SECONDS"] = repr(rq.write_timeout_seconds)
        env["TODOSTACK_MAX_INFLIGHT"] = str(rq.max_inflight)
        env["TODOSTACK_DB_ACQUIRE_TIMEOUT_SECONDS"] = repr(rq.db_acquire_timeout_seconds)
        env["TODOSTACK_SHUTDOWN_DELAY_SECONDS"] = repr(rq.shutdown_delay_seconds)
        env["TODOSTACK_SHUTDOWN_GRACE_SECONDS"] = repr(rq.shutdown_grace_seconds)
        if rq.alert_webhook_url is not None:
            env["TODOSTACK_ALERT_WEBHOOK_URL"] = rq.alert_webhook_url
        return env | _profiling_env(self.profiling)


def _profiling_env(p: ProfilingSettings) -> dict[str, str]:
    env = {
        "TODOSTACK_AUTOPROF_ENABLED": "on" if p.enabled else "off",
        "TODOSTACK_AUTOPROF_INTERVAL_SECONDS": repr(p.interval_seconds),
        "TODOSTACK_AUTOPROF_WINDOW_CHECKS": str(p.window_checks),
        "TODOSTACK_AUTOPROF_CPU_THRESHOLD": repr(p.cpu_threshold),
        "TODOSTACK_AUTOPROF_MEMORY_THRESHOLD": repr(p.memory_threshold),
        "TODOSTACK_AUTOPROF_LAG_THRESHOLD_SECONDS": repr(p.lag_threshold_seconds),
        "TODOSTACK_AUTOPROF_THROTTLE_THRESHOLD": repr(p.throttle_threshold),
        "TODOSTACK_AUTOPROF_SUPPRESS_CHECKS": str(p.suppress_checks),
        "TODOSTACK_AUTOPROF_CHECKS_IN_A_ROW": str(p.checks_in_a_row),
        "TODOSTACK_AUTOPROF_CPU_SECONDS": repr(p.cpu_seconds),
        "TODOSTACK_AUTOPROF_CPU_HZ": str(p.cpu_hz),
        "TODOSTACK_AUTOPROF_DIR": p.directory,
        "TODOSTACK_AUTOPROF_REPORT_TIMEOUT_SECONDS": repr(p.report_timeout_seconds),
        "TODOSTACK_AUTOPROF_TRACEMALLOC_FRAMES": str(p.tracemalloc_frames),
        "TODOSTACK_AUTOPROF_HEAP_ARM_RATIO": repr(p.heap_arm_ratio),
        "TODOSTACK_AUTOPROF_KEEP": str(p.keep_reports),
    }
    if p.webhook_url is not None:
        env["TODOSTACK_AUTOPROF_WEBHOOK_URL"] = p.webhook_url
    if p.admin_token is not None:
        env["TODOSTACK_ADMIN_TOKEN"] = p.admin_token
    return env
