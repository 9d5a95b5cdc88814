"""PostgreSQL storage on asyncpg."""

from todostack.adapters.postgres.database import PostgresDatabase
from todostack.adapters.postgres.feed import PgChangeListener
from todostack.adapters.postgres.migrate import migrate_postgres, pending_postgres_migrations

__all__ = ["PgChangeListener", "PostgresDatabase", "migrate_postgres", "pending_postgres_migrations"]
