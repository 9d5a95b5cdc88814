"""Which storage the settings pick (memory, SQLite, PostgreSQL), its migrations, and the key that
signs tokens: the half of the composition root that knows the adapters' constructors."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from todostack.adapters.memory import InMemoryDatabase
from todostack.adapters.migrations import Migration
from todostack.adapters.postgres import PostgresDatabase, migrate_postgres, pending_postgres_migrations
from todostack.adapters.secret_key import generated_secret_key
from todostack.adapters.sqlite import SqliteDatabase, migrate_sqlite
from todostack.adapters.sqlite.database import sqlite_path
from todostack.adapters.storage import StatementObserver, Storage
from todostack.observability.tracing import Tracing
from todostack.runtime import Settings, SettingsError

__all__ = ["migrate", "open_storage", "pending_migrations", "with_secret_key"]


def with_secret_key(settings: Settings) -> Settings:
    """``settings`` with the key that signs tokens: the configured one, else the one kept beside
    the SQLite database (made on first use), else one for this process (in-memory backend).
    PostgreSQL without a configured key is refused before this (``problems_for_start``)."""
    sec = settings.security
    if sec.secret_key:
        return settings
    db = settings.database
    if db.dialect == "postgresql":
        raise SettingsError("TODOSTACK_SECRET_KEY is not set: PostgreSQL needs a configured secret")
    data_dir = None
    if db.dialect == "sqlite" and (path := sqlite_path(db.url)) != ":memory:":
        data_dir = Path(path).resolve().parent
    return replace(settings, security=replace(sec, secret_key=generated_secret_key(data_dir)))


async def open_storage(
    settings: Settings,
    pool_size: int | None = None,
    *,
    observe: StatementObserver | None = None,
    tracing: Tracing | None = None,
) -> Storage:
    db = settings.database
    rq = settings.requests
    if db.dialect == "postgresql":
        pg = await PostgresDatabase.connect(
            db.url,
            min_size=1,
            max_size=pool_size or db.pool_size,
            acquire_timeout=rq.db_acquire_timeout_seconds,
            # No statement outlives the longest request budget, deadline or not.
            statement_timeout=max(rq.read_timeout_seconds, rq.write_timeout_seconds),
            prepared_statements=db.prepared_statements,
            plan_cache_mode=db.plan_cache_mode,
            observe=observe,
            tracing=tracing,
        )
        return Storage(pg, pg.ping, pg.close, pg.sleep, pg.pool_state, pg.number_changes, pg.wrote)
    if db.dialect == "sqlite":
        lite = await SqliteDatabase.connect(
            db.url,
            size=min(db.pool_size, 8),
            acquire_timeout=rq.db_acquire_timeout_seconds,
            observe=observe,
            tracing=tracing,
        )
        return Storage(lite, lite.ping, lite.close, lite.sleep)
    mem = InMemoryDatabase()
    return Storage(mem, mem.ping, mem.close, asyncio.sleep)


async def migrate(settings: Settings) -> list[Migration]:
    """Apply pending migrations; returns what was applied."""
    if settings.database.dialect == "postgresql":
        return await migrate_postgres(settings.database.url, prepared_statements=settings.database.prepared_statements)
    if settings.database.dialect == "sqlite":
        return await migrate_sqlite(settings.database.url)
    return []


async def pending_migrations(settings: Settings) -> list[Migration]:
    if settings.database.dialect == "postgresql":
        db = settings.database
        return await pending_postgres_migrations(db.url, prepared_statements=db.prepared_statements)
    return []
