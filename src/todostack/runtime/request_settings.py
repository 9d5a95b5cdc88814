"""The settings of what each request may use, declared once (``runtime.declare``): its budgets and
shedding, the service's limits and quotas, sign-in, the change feed. ``Settings`` gathers them."""

from __future__ import annotations

from dataclasses import dataclass

from todostack.runtime.declare import number, on_off, setting, switch, text, whole

__all__ = ["AuthSettings", "FeedSettings", "LimitSettings", "RequestSettings"]


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
    header_read_timeout_seconds: float = _seconds(
        "TODOSTACK_HEADER_READ_TIMEOUT_SECONDS",
        15.0,
        "longest a client may take to send a request's headers, and how long an idle keep-alive "
        "connection stays open (the server has one timer for both); also bounds a worker's stop",
        1,
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
    hot_routes: bool = setting(
        "TODOSTACK_HOT_ROUTES",
        True,
        "answer `GET /api/v1/todos/{id}`, `POST /api/v1/todos` and `GET /api/v1/todos` pages (by list, "
        "limit and cursor) with a bearer token without the framework's per-request machinery (same answers, "
        "more of them per CPU: docs/benchmarks.md); off: every request through Litestar",
        switch,
        show=on_off,
    )

    def stop_seconds_after_close(self) -> float:
        """How long a worker may take to stop once its listener has closed, before it is killed:
        the longer of the grace period and the header read timeout (a connection still sending
        its request's headers holds the server's stop until that timeout closes it), and 5 s to
        close the pools."""
        return max(self.shutdown_grace_seconds, self.header_read_timeout_seconds) + 5


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
