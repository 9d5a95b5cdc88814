"""PostgreSQL storage on asyncpg."""

from todostack.adapters.postgres.database import (
    PostgresDatabase,
    migrate_postgres,
    pending_postgres_migrations,
)
from todostack.adapters.postgres.feed import PgChangeListener

__all__ = ["PgChangeListener", "PostgresDatabase", "migrate_postgres", "pending_postgres_migrations"]
