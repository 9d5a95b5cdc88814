"""SQLite with no room left (SQLITE_FULL, here through ``max_page_count``): writes are refused with
``StorageFull`` (507), reads keep working, nothing is corrupted, and writes resume with room."""

from __future__ import annotations

from pathlib import Path

import pytest

from todostack.adapters.sqlite import SqliteDatabase
from todostack.context import StorageFull


async def _scalar(db: SqliteDatabase, sql: str) -> object:
    async with db() as uow, uow.connection.execute(sql) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return row[0]


async def _write_until_refused(db: SqliteDatabase) -> None:
    for _ in range(100):
        async with db(write=True) as uow:
            await uow.connection.execute("INSERT INTO filler VALUES (zeroblob(4000))")
            await uow.commit()


async def test_a_full_database_refuses_writes_keeps_reads_and_takes_writes_again(tmp_path: Path) -> None:
    db = await SqliteDatabase.connect(f"sqlite:///{tmp_path}/full.db", size=1)
    try:
        async with db(write=True) as uow:
            await uow.connection.execute("CREATE TABLE filler (x BLOB)")
            await uow.connection.execute("INSERT INTO filler VALUES (zeroblob(100))")
            await uow.commit()
        pages = await _scalar(db, "PRAGMA page_count")
        assert isinstance(pages, int)
        await _scalar(db, f"PRAGMA max_page_count = {pages + 3}")
        with pytest.raises(StorageFull):
            await _write_until_refused(db)
        kept = await _scalar(db, "SELECT count(*) FROM filler")
        assert isinstance(kept, int)
        assert kept >= 1
        await _scalar(db, "PRAGMA max_page_count = 1073741823")
        async with db(write=True) as uow:
            await uow.connection.execute("INSERT INTO filler VALUES (zeroblob(4000))")
            await uow.commit()
        assert await _scalar(db, "SELECT count(*) FROM filler") == kept + 1
        assert await _scalar(db, "PRAGMA integrity_check") == "ok"
    finally:
        await db.close()
