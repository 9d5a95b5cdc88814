"""PostgreSQL: a pool per worker process, units of work, readiness and migrations."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from todostack.adapters.migrations import Migration, check_applied, load_migrations
from todostack.adapters.postgres.repositories import (
    PgIdempotency,
    PgLists,
    PgTodos,
    PgUsers,
)

__all__ = ["PostgresDatabase", "PostgresUnitOfWork", "migrate_postgres", "pending_postgres_migrations"]

# pg_advisory_lock key: "todostack" in ASCII, truncated to a bigint.
_MIGRATION_LOCK = 0x746F646F737461


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    # UUIDs as plain strings both ways: ids are strings in the domain, and this skips a
    # uuid.UUID object per row.
    await conn.set_type_codec("uuid", encoder=str, decoder=str, schema="pg_catalog", format="text")


class PostgresDatabase:
    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, url: str, *, min_size: int = 1, max_size: int = 10) -> PostgresDatabase:
        pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, init=_init_connection)
        return cls(pool)

    def __call__(self, *, write: bool = False) -> PostgresUnitOfWork:
        return PostgresUnitOfWork(self._pool, write=write)

    async def ping(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    async def close(self) -> None:
        await self._pool.close()


class PostgresUnitOfWork:
    """One pooled connection; a transaction only for writes (reads run as single statements)."""

    users: PgUsers
    lists: PgLists
    todos: PgTodos
    idempotency: PgIdempotency

    def __init__(self, pool: asyncpg.Pool[Any], *, write: bool) -> None:
        self._pool = pool
        self._write = write
        self._tx: Any = None

    async def __aenter__(self) -> Self:
        self._conn: PoolConnectionProxy[Any] = await self._pool.acquire()
        try:
            if self._write:
                self._tx = self._conn.transaction()
                await self._tx.start()
        except BaseException:
            await self._pool.release(self._conn)
            raise
        self.users = PgUsers(self._conn)
        self.lists = PgLists(self._conn)
        self.todos = PgTodos(self._conn)
        self.idempotency = PgIdempotency(self._conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._tx is not None:
                await self._tx.rollback()
        finally:
            await self._pool.release(self._conn)

    async def commit(self) -> None:
        if self._tx is None:
            raise RuntimeError("commit on a read-only unit of work")
        await self._tx.commit()
        self._tx = None


async def _applied(conn: asyncpg.Connection[Any]) -> dict[int, str]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    return {r[0]: r[1] for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")}


async def pending_postgres_migrations(url: str) -> list[Migration]:
    """Migrations not yet applied; raises ``MigrationError`` on an edited history."""
    conn = await asyncpg.connect(url)
    try:
        return check_applied(load_migrations("postgres"), await _applied(conn))
    finally:
        await conn.close()


async def migrate_postgres(url: str) -> list[Migration]:
    """Apply pending migrations, each in its own transaction, under an advisory lock.

    Two migrators started together are safe: the second waits for the lock, then finds
    nothing left to do.
    """
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            todo = check_applied(load_migrations("postgres"), await _applied(conn))
            for migration in todo:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
            return todo
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    finally:
        await conn.close()
