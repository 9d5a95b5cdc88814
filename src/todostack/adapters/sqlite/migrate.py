"""SQLite's migrations: applied in one immediate transaction, after switching the file to WAL."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from todostack.adapters.migrations import Migration, check_applied, load_migrations
from todostack.adapters.sqlite.database import BUSY_TIMEOUT_MS, sqlite_path

__all__ = ["migrate_sqlite"]


def _statements(sql: str) -> list[str]:
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s]


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switching a new database to WAL needs it to itself, and SQLite does not wait for that
    (no busy handler): two migrators starting at once on a fresh file can meet "locked" here."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _migrate(path: str) -> list[Migration]:
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        _enable_wal(conn)
        # One immediate transaction for the whole run: a second migrator waits, then finds
        # nothing to do. SQLite's DDL is transactional, so a failure leaves no half schema.
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " checksum TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')))"
        )
        applied = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
        try:
            todo = check_applied(load_migrations("sqlite"), applied)
            for migration in todo:
                for statement in _statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                    (migration.version, migration.name, migration.checksum),
                )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return todo
    finally:
        conn.close()


async def migrate_sqlite(url: str) -> list[Migration]:
    return await asyncio.to_thread(_migrate, sqlite_path(url))
