"""SQLite's checkpoints are the pool's own task, not a request's: a commit that takes the WAL past
SQLite's 1,000 pages no longer copies it back into the database file (with an fsync, inside the
pool's write lock) itself; the pool's checkpointer does, on its own connection, shortly after, and
restarts the WAL once it has grown past RESTART_FRAMES.

Whether a checkpoint ran is read from the database file's size: written pages reach the file only
through one (until then they are in the WAL)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from todostack.adapters.sqlite import SqliteDatabase
from todostack.adapters.sqlite.database import RESTART_FRAMES, WAL_BACKSTOP_PAGES

ROWS = 1_500  # a page each: past SQLite's own threshold (1,000 pages), far below the backstop
FILL = (
    "INSERT INTO filler SELECT randomblob(4000) FROM"
    f" (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) SELECT i FROM n)"
)
GREW = ROWS * 4096 // 2  # the file holds the rows once they are checkpointed


async def _fill(db: SqliteDatabase) -> None:
    async with db(write=True) as uow:
        await uow.connection.execute("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
        await uow.connection.execute(FILL)
        await uow.commit()


async def test_a_commit_past_a_thousand_pages_leaves_the_checkpoint_to_the_pool(tmp_path: Path) -> None:
    path = tmp_path / "own.db"
    db = await SqliteDatabase.connect(f"sqlite:///{path}", size=2, checkpoint_seconds=0.05)
    try:
        assert ROWS < WAL_BACKSTOP_PAGES
        await _fill(db)
        async with asyncio.timeout(10):  # the next turn of the checkpointer, whatever the machine
            while path.stat().st_size < GREW:
                await asyncio.sleep(0.02)
        async with db() as uow, uow.connection.execute("SELECT count(*) FROM filler") as cursor:
            assert await cursor.fetchone() == (ROWS,)
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("checkpoint_seconds", "checkpointed_by_the_commit"),
    [(0, True), (3600, False)],
    ids=["left-to-sqlite", "pool-checkpointer-asleep"],
)
async def test_who_checkpoints_a_big_commit(
    tmp_path: Path, checkpoint_seconds: float, checkpointed_by_the_commit: bool
) -> None:
    """0 turns the pool's checkpointer off: SQLite's own threshold applies, and the commit checkpoints.
    With the checkpointer on (asleep here for an hour), the commit does not."""
    path = tmp_path / "who.db"
    db = await SqliteDatabase.connect(f"sqlite:///{path}", size=1, checkpoint_seconds=checkpoint_seconds)
    try:
        await _fill(db)
        assert (path.stat().st_size >= GREW) is checkpointed_by_the_commit
    finally:
        await db.close()


class _Checkpoints:
    """Stands in for the checkpointer's connection: answers each checkpoint with the WAL's frames
    as given, or an error, and records what was asked; the last answer stops the task."""

    def __init__(self, answers: list[int | sqlite3.Error]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def execute_fetchall(self, sql: str) -> list[tuple[int, int, int]]:
        self.asked.append(sql.removeprefix("PRAGMA wal_checkpoint(").removesuffix(")"))
        if not self.answers:
            raise asyncio.CancelledError
        answer = self.answers.pop(0) if "PASSIVE" in sql else 0
        if isinstance(answer, sqlite3.Error):
            raise answer
        return [(0, answer, answer)]


async def test_past_restart_frames_a_passive_checkpoint_is_followed_by_a_restarting_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A passive checkpoint never catches up with a steady stream of writes, and the WAL starts
    again from its beginning only after one that did: past RESTART_FRAMES the task restarts it."""
    caplog.set_level(logging.INFO, "todostack.db.sqlite")
    failure = sqlite3.OperationalError("disk I/O error")
    conn = _Checkpoints([10, RESTART_FRAMES - 1, RESTART_FRAMES, failure, failure, 5])
    with pytest.raises(asyncio.CancelledError):
        await SqliteDatabase._checkpoint_forever(conn, 0)  # type: ignore[arg-type]
    assert conn.asked == ["PASSIVE", "PASSIVE", "PASSIVE", "RESTART", "PASSIVE", "PASSIVE", "PASSIVE", "PASSIVE"]
    # Two failures in a row are one warning; working again is said once.
    failed = [r for r in caplog.records if "checkpoint failed" in r.getMessage()]
    assert len(failed) == 1
    assert [r.getMessage() for r in caplog.records if "works again" in r.getMessage()] == [
        "sqlite checkpoint works again"
    ]
