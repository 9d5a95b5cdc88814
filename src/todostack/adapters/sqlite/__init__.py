"""SQLite storage on aiosqlite (WAL mode)."""

from todostack.adapters.sqlite.database import (
    SqliteDatabase,
    migrate_sqlite,
    sqlite_path,
)

__all__ = ["SqliteDatabase", "migrate_sqlite", "sqlite_path"]
