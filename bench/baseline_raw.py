"""The floor: a minimal ASGI app with no framework, answering ``get-one`` with the same query.

No routing library, no validation, no authentication: one asyncpg pool per worker, one
``SELECT`` by id, msgspec to encode. ``todostack bench`` runs it under granian with the same
worker count as the service and reports the service as a percentage of it.
"""

from __future__ import annotations

import os
from typing import Any

import asyncpg
import msgspec

_QUERY = (
    "SELECT id, owner_id, list_id, title, notes, completed, completed_at, due, priority, tags, position,"
    " created_at, updated_at, version FROM todos WHERE id = $1"
)
_PREFIX = "/api/v1/todos/"
_encode = msgspec.json.Encoder().encode
_JSON = [(b"content-type", b"application/json")]
_pool: Any = None


async def _init(conn: Any) -> None:
    await conn.set_type_codec("uuid", encoder=str, decoder=str, schema="pg_catalog", format="text")


async def _respond(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _JSON})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _pool
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _pool = await asyncpg.create_pool(
                    os.environ["BASELINE_DATABASE_URL"],
                    min_size=1,
                    max_size=int(os.environ.get("BASELINE_POOL_SIZE", "10")),
                    init=_init,
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await _pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    path: str = scope["path"]
    if path == "/healthz":
        await _respond(send, 200, b'{"status":"ok"}')
        return
    if not path.startswith(_PREFIX):
        await _respond(send, 404, b'{"detail":"not found"}')
        return
    try:
        row = await _pool.fetchrow(_QUERY, path[len(_PREFIX) :])
    except asyncpg.DataError:
        row = None
    if row is None:
        await _respond(send, 404, b'{"detail":"not found"}')
        return
    todo = dict(row)
    todo["order"] = todo.pop("position")
    await _respond(send, 200, _encode(todo))
