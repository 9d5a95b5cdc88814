"""SQLite storage on aiosqlite (WAL mode)."""

from todostack.adapters.sqlite.database import SqliteDatabase, sqlite_path
from todostack.adapters.sqlite.migrate import migrate_sqlite

__all__ = ["SqliteDatabase", "migrate_sqlite", "sqlite_path"]
