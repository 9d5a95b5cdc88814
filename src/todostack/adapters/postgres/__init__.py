"""PostgreSQL storage on asyncpg."""

from todostack.adapters.postgres.database import (
    PostgresDatabase,
    migrate_postgres,
    pending_postgres_migrations,
)

__all__ = ["PostgresDatabase", "migrate_postgres", "pending_postgres_migrations"]
