"""A throwaway PostgreSQL schema per test session, so runs never collide."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar
from urllib.parse import urlencode

import asyncpg
import pytest

T = TypeVar("T")
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def base_url() -> str:
    return os.environ.get("TODOSTACK_TEST_POSTGRES_URL", DEFAULT_URL)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even while some event loop is running here."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def require_postgres() -> str:
    """The server's URL, or skip (fail under CI=true) when it does not answer."""
    url = base_url()
    try:
        run_sync(_execute(url, "SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        message = f"PostgreSQL at {url} is not reachable ({exc!r})"
        if in_ci():
            pytest.fail(f"{message}; with CI=true the PostgreSQL suites must run", pytrace=False)
        pytest.skip(f"{message}: SKIPPING the PostgreSQL tests (set TODOSTACK_TEST_POSTGRES_URL)")
    return url


@contextmanager
def fresh_schema() -> Iterator[str]:
    """Yield a URL whose search_path is a new, empty schema; drop it afterwards."""
    url = require_postgres()
    schema = f"ts_{uuid.uuid4().hex[:12]}"
    run_sync(_execute(url, f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}{urlencode({'search_path': f'{schema},public'})}"
    finally:
        run_sync(_execute(url, f"DROP SCHEMA {schema} CASCADE"))


@asynccontextmanager
async def fresh_schema_async() -> AsyncIterator[str]:
    """``fresh_schema`` for async tests: its statements are awaited, never run on the test's loop
    synchronously (a ``DROP SCHEMA … CASCADE`` of a migrated schema takes long enough under load to
    trip the blocked-loop check)."""
    url = require_postgres()
    schema = f"ts_{uuid.uuid4().hex[:12]}"
    await _execute(url, f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}{urlencode({'search_path': f'{schema},public'})}"
    finally:
        await _execute(url, f"DROP SCHEMA {schema} CASCADE")
