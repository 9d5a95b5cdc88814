"""Settings, grouped per concern, read from ``TODOSTACK_*`` environment variables.

Each setting is declared once, here (variable, default, bounds, meaning: ``runtime.declare``);
nothing reads the environment at import time: the entry points build one ``Settings`` and pass it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Literal

from todostack.runtime.declare import (
    SettingsError,
    Spec,
    declared,
    on_off,
    one_of,
    read_group,
    setting,
    shown_default,
    switch,
    whole,
    write_group,
)
from todostack.runtime.groups import DatabaseSettings, RuntimeSettings, SecuritySettings, ServerSettings
from todostack.runtime.profiling_settings import ProfilingSettings
from todostack.runtime.request_settings import AuthSettings, FeedSettings, LimitSettings, RequestSettings

__all__ = [
    "AuthSettings",
    "DatabaseSettings",
    "FeedSettings",
    "LimitSettings",
    "ProfilingSettings",
    "RequestSettings",
    "RuntimeSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "describe",
    "settings_lines",
    "settings_table",
    "specs",
]

MIN_SECRET_LENGTH = 32
Environment = Literal["development", "production", "test"]


@dataclass(frozen=True, slots=True)
class Settings:
    env: Environment = setting(
        "TODOSTACK_ENV",
        "development",
        "`development`, `test` or `production`",
        one_of("development", "production", "test"),
    )
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    requests: RequestSettings = field(default_factory=RequestSettings)
    profiling: ProfilingSettings = field(default_factory=ProfilingSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    feed: FeedSettings = field(default_factory=FeedSettings)
    todobackend: bool = setting(
        "TODOSTACK_TODOBACKEND",
        True,
        "the public Todo-Backend demo routes",
        switch,
        show=on_off,
        default_doc="on, off in production",
    )
    todobackend_capacity: int = setting(
        "TODOSTACK_TODOBACKEND_CAPACITY", 1000, "most todos the demo list holds", whole(1, 1_000_000)
    )
    # Routes that only tests may use (e.g. to allocate memory); refused in production.
    test_endpoints: bool = setting(
        "TODOSTACK_TEST_ENDPOINTS", False, "routes only tests use; refused in production", switch, show=on_off
    )
    max_body_bytes: int = 1024 * 1024  # not configurable: the API documents 1 MiB
    log_level: str = setting("TODOSTACK_LOG_LEVEL", "info", "log level", lambda raw: raw.lower())

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        groups: dict[str, object] = {name: read_group(group, env) for name, group in _groups()}
        settings = read_group(cls, env, **groups)
        if settings.env == "production" and not env.get("TODOSTACK_TODOBACKEND", "").strip():
            settings = replace(settings, todobackend=False)
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
        key = self.security.secret_key
        if not key and self.env == "production":
            problems.append("TODOSTACK_SECRET_KEY is not set: production needs a secret of its own")
        elif not key and self.database.dialect == "postgresql":
            problems.append(
                "TODOSTACK_SECRET_KEY is not set: on PostgreSQL every worker of every instance must sign with "
                f"the same secret, so set one of {MIN_SECRET_LENGTH}+ random characters "
                "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        elif key and len(key) < MIN_SECRET_LENGTH:
            problems.append(f"TODOSTACK_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters")
        return problems

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings (for worker processes)."""
        env = write_group(self)
        for name, _ in _groups():
            env |= write_group(getattr(self, name))
        return env


def _groups() -> Iterator[tuple[str, type]]:
    for f in fields(Settings):
        if f.default_factory is not MISSING:  # a group of settings
            yield f.name, f.default_factory  # type: ignore[misc]


def specs() -> Iterator[tuple[str, Spec]]:
    """Every declared setting with its default as people read it, in declaration order."""
    for cls in (Settings, *(group for _, group in _groups())):
        for f, spec in declared(cls):
            yield shown_default(f, spec), spec


def settings_table() -> str:
    """The README's configuration table."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for default, spec in specs():
        shown = default if spec.default_doc is not None else f"`{default}`"
        rows.append(f"| `{spec.env}` | {shown} | {spec.doc} |")
    return "\n".join(rows) + "\n"


def settings_lines() -> str:
    """Every variable with its default, one a line (``todostack serve --help``)."""
    return "\n".join(f"  {spec.env} (default {default})" for default, spec in specs())


def describe(env: str) -> str:
    """A flag's ``--help``: the setting's meaning, variable and default."""
    for default, spec in specs():
        if spec.env == env:
            return f"{spec.doc} ({env}, default {default})"
    raise KeyError(env)
