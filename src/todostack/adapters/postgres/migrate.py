"""PostgreSQL's migrations: which are pending, and applying them under an advisory lock."""

from __future__ import annotations

from typing import Any

import asyncpg

from todostack.adapters.migrations import Migration, check_applied, load_migrations

__all__ = ["migrate_postgres", "pending_postgres_migrations"]

# pg_advisory_lock key: "todostack" in ASCII, truncated to a bigint.
_MIGRATION_LOCK = 0x746F646F737461


async def _applied(conn: asyncpg.Connection[Any]) -> dict[int, str]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    return {r[0]: r[1] for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")}


async def pending_postgres_migrations(url: str, *, prepared_statements: bool = True) -> list[Migration]:
    """Migrations not yet applied; raises ``MigrationError`` on an edited history."""
    conn = await asyncpg.connect(url, statement_cache_size=100 if prepared_statements else 0)
    try:
        return check_applied(load_migrations("postgres"), await _applied(conn))
    finally:
        await conn.close()


_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
    " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
)


async def _apply(conn: asyncpg.Connection[Any], migration: Migration) -> None:
    await conn.execute(migration.sql)
    await conn.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        migration.version,
        migration.name,
        migration.checksum,
    )


async def migrate_postgres(url: str, *, prepared_statements: bool = True) -> list[Migration]:
    """Apply pending migrations, each in its own transaction, under an advisory lock.

    Two migrators started together are safe: the second waits for the lock, then finds
    nothing left to do. Through a transaction pooler (``prepared_statements=False``) a session
    lock would be taken on one server connection and released on another: there all pending
    migrations run in one transaction, under a transaction-scoped lock.
    """
    if not prepared_statements:
        conn = await asyncpg.connect(url, statement_cache_size=0)
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                await conn.execute(_MIGRATIONS_TABLE)
                todo = check_applied(load_migrations("postgres"), await _applied(conn))
                for migration in todo:
                    await _apply(conn, migration)
            return todo
        finally:
            await conn.close()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(_MIGRATIONS_TABLE)
            todo = check_applied(load_migrations("postgres"), await _applied(conn))
            for migration in todo:
                async with conn.transaction():
                    await _apply(conn, migration)
            return todo
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    finally:
        await conn.close()
