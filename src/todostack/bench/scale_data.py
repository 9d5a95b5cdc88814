"""The data behind ``todostack bench --scale`` at one size, on PostgreSQL or SQLite.

A fresh, migrated database; a heavy user and ten ordinary users registered through the API (so
they can sign in), each ordinary user given ``ORDINARY_TODOS`` todos, then the bulk of the rows
(``bench.bulk`` with COPY, ``bench.bulk_sqlite`` with ``executemany``), which ends vacuumed and
analysed; then what the wrk scripts need: sample todo ids, the cursor of a deep page, the scripts.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from todostack.adapters.postgres import migrate_postgres
from todostack.adapters.sqlite import migrate_sqlite
from todostack.bench.bulk import bulk_seed
from todostack.bench.bulk_rows import todo_rows
from todostack.bench.bulk_sqlite import bulk_seed_sqlite
from todostack.bench.wrk import DONE_LUA

__all__ = ["Prepared", "fresh_database", "prepare", "scripts"]

PASSWORD = "bench-scale-password-long"
ORDINARY_USERS = 10
ORDINARY_TODOS = 200
Account = tuple[str, str]  # (list id, token)
Prepared = dict[str, Any]

_GETS = r"""
local n = 0
request = function()
  n = n + 1
  local r = REQUESTS[math.random(#REQUESTS)]
  return wrk.format("GET", r[1], {["Authorization"] = r[2]})
end
"""
_CREATE = r"""
local n = 0
request = function()
  n = n + 1
  local r = OWNERS[math.random(#OWNERS)]
  return wrk.format("POST", "/api/v1/todos", {["Authorization"] = r[2], ["Content-Type"] = "application/json"},
    '{"title":"scale ' .. n .. '","list_id":"' .. r[1] .. '","tags":["work"],"priority":"low"}')
end
"""


def fresh_database(backend: str, admin_url: str, name: str, directory: Path, todos: int) -> str:
    """The URL of an empty, migrated database for one size."""
    if backend == "sqlite":
        path = directory / f"scale-{todos}.db"
        for stale in directory.glob(f"{path.name}*"):
            stale.unlink()
        url = f"sqlite:///{path}"
        asyncio.run(migrate_sqlite(url))
        return url
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"--scale-database must be letters, digits and underscores, got {name!r}")

    async def create() -> str:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await conn.execute(f"CREATE DATABASE {name}")
        finally:
            await conn.close()
        url = f"{admin_url.rsplit('/', 1)[0]}/{name}"
        await migrate_postgres(url)
        return url

    return asyncio.run(create())


async def _account(http: httpx.AsyncClient, label: str) -> Account:
    email = f"scale-{label}-{uuid.uuid4().hex[:8]}@example.com"
    (await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})).raise_for_status()
    token = (await http.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    return str((await http.get("/api/v1/lists", headers=auth)).json()["items"][0]["id"]), token


def _ordinary_rows(owners: list[tuple[str, str]]) -> list[tuple[Any, ...]]:
    rng = random.Random(7)  # noqa: S311 - reproducible data
    return [row for owner, list_id in owners for row in todo_rows(rng, owner, list_id, ORDINARY_TODOS, 0)]


async def _seed_postgres(
    url: str, accounts: list[Account], size: tuple[int, int, int]
) -> tuple[float, dict[str, list[str]]]:
    conn = await asyncpg.connect(url)
    try:
        sql = "SELECT owner_id::text FROM todo_lists WHERE id = $1"
        owners = [(str(await conn.fetchval(sql, uuid.UUID(lst))), lst) for lst, _ in accounts]
        todos, heavy_todos, users = size
        extra = _ordinary_rows(owners[1:])
        # The change feed records none of it; ends with VACUUM (ANALYZE) and CHECKPOINT.
        facts = await bulk_seed(
            conn, todos=todos, heavy_todos=heavy_todos, users=users, heavy=owners[0], extra_rows=extra
        )
        sql = "SELECT id::text FROM todos WHERE list_id = $1 LIMIT 200"
        return facts.seconds, {lst: [r[0] for r in await conn.fetch(sql, uuid.UUID(lst))] for lst, _ in accounts}
    finally:
        await conn.close()


def _seed_sqlite(url: str, accounts: list[Account], size: tuple[int, int, int]) -> tuple[float, dict[str, list[str]]]:
    path = url.removeprefix("sqlite:///")
    db = sqlite3.connect(path, isolation_level=None)
    try:
        sql = "SELECT owner_id FROM todo_lists WHERE id = ?"
        owners = [(db.execute(sql, (lst,)).fetchone()[0], lst) for lst, _ in accounts]
        todos, heavy_todos, users = size
        extra = _ordinary_rows(owners[1:])
        # The change feed records none of it; ends with ANALYZE.
        facts = bulk_seed_sqlite(
            path, todos=todos, heavy_todos=heavy_todos, users=users, heavy=owners[0], extra_rows=extra
        )
        sql = "SELECT id FROM todos WHERE list_id = ? LIMIT 200"
        return facts.seconds, {lst: [r[0] for r in db.execute(sql, (lst,))] for lst, _ in accounts}
    finally:
        db.close()


async def prepare(url: str, database_url: str, todos: int, heavy_todos: int, users: int) -> Prepared:
    """Accounts through the API, rows straight into the database; what the scenarios need to know."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        accounts = [await _account(http, "heavy")] + [await _account(http, f"user{n}") for n in range(ORDINARY_USERS)]
    size = (max(todos - ORDINARY_USERS * ORDINARY_TODOS, 2), heavy_todos, users)  # (todos, heavy_todos, users)
    if database_url.startswith("sqlite"):
        seconds, samples = await asyncio.to_thread(_seed_sqlite, database_url, accounts, size)
    else:
        seconds, samples = await _seed_postgres(database_url, accounts, size)
    heavy_list, heavy_token = accounts[0]
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        auth = {"Authorization": f"Bearer {heavy_token}"}
        params: dict[str, str | int] = {"list_id": heavy_list, "limit": 50}
        for _ in range(50):  # the cursor of the page 50 pages deep, as a client gets it
            cursor = (await http.get("/api/v1/todos", params=params, headers=auth)).json().get("next")
            if not cursor:
                break
            params["cursor"] = cursor
    deep = str(httpx.URL("/api/v1/todos", params=params))
    return {"accounts": accounts, "samples": samples, "deep": deep, "seed_seconds": seconds}


def _lua(value: str) -> str:
    return json.dumps(value)


def _script(table: str, pairs: list[tuple[str, str]], body: str, path: Path) -> Path:
    rows = ",\n".join(f"{{{_lua(first)}, {_lua('Bearer ' + token)}}}" for first, token in pairs)
    path.write_text(f"{table} = {{{rows}}}\n{body}\n{DONE_LUA}")
    return path


def scripts(prep: Prepared, directory: Path) -> dict[str, Path]:
    """One wrk script per scenario but ``patch`` (``bench.seed.seed_patch_pool`` makes that one)."""
    accounts, samples = prep["accounts"], prep["samples"]
    gets = [(f"/api/v1/todos/{i}", token) for lst, token in accounts for i in samples[lst][:50]]
    firsts = [(f"/api/v1/todos?list_id={lst}&limit=50", token) for lst, token in accounts]
    searches = [
        (f"/api/v1/todos?{query}&limit=50", token)
        for _, token in accounts
        for query in ("q=passport", "tag=urgent", "due_before=2026-04-01T00:00:00Z")
    ]
    requests = {
        "get-one": gets,
        "list-first": firsts,
        "list-deep": [(prep["deep"], accounts[0][1])],
        "search": searches,
    }
    made = {
        name: _script("REQUESTS", pairs, _GETS, directory / f"scale-{name}.lua") for name, pairs in requests.items()
    }
    made["create"] = _script("OWNERS", accounts, _CREATE, directory / "scale-create.lua")
    return made
