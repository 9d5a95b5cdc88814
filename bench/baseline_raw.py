"""The floor: a minimal ASGI app with no framework, answering ``get-one``, ``list`` and ``create``
with the same SQL as the service.

No routing library, no validation beyond what the SQL needs, no middleware, no metrics, no
logging: per worker, a LIFO queue of asyncpg connections; the bearer token checked with the
service's own codec (the same HMAC, so authentication costs the same); then the statement the
service's repository sends for that request, with the same columns, filters and index use, and
the same transaction shape (a create is one autocommit ``INSERT … SELECT … RETURNING``, its change
then numbered for the change feed in the background, as the service's sequencer does), and
msgspec to encode. ``todostack bench`` runs it under granian with the same worker count and
event loop as the service, in turn with the service's runs, and reports each scenario as a
share of it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
import msgspec

from todostack.adapters.postgres.feed import sequence
from todostack.adapters.postgres.todos import PLACE_IN_LIST, PLACE_IN_OLDEST_LIST, TODO_BY_ID, search_statement
from todostack.adapters.tokens import HmacTokenCodec
from todostack.usecases.queries import SortField, TodoFilter, TodoQuery

# The first page of a list in its own order: owner $1, list $2, the limit (plus one) $3.
_LIST, _ = search_statement(TodoQuery("", TodoFilter(list_id=""), SortField.ORDER, False, 0, None))
_PREFIX = "/api/v1/todos"
_PRIORITY = ("none", "low", "medium", "high")
_RANK = {name: rank for rank, name in enumerate(_PRIORITY)}
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode
_JSON = [(b"content-type", b"application/json")]
_NOT_FOUND = b'{"detail":"not found"}'
_state: dict[str, Any] = {}
# The account quota every create is checked against, in the statement, as the service's is.
_QUOTA = int(os.environ["BASELINE_QUOTA_TODOS"])


async def _init(conn: Any) -> None:
    await conn.set_type_codec("uuid", encoder=str, decoder=str, schema="pg_catalog", format="text")


async def _respond(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _JSON})
    await send({"type": "http.response.body", "body": body})


def _out(r: Any) -> dict[str, Any]:
    return {
        "id": r[0],
        "list_id": r[2],
        "title": r[3],
        "notes": r[4],
        "completed": r[5],
        "completed_at": r[6],
        "due": r[7],
        "priority": _PRIORITY[r[8]],
        "tags": r[9],
        "order": r[10],
        "created_at": r[11],
        "updated_at": r[12],
        "version": r[13],
    }


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            idle: asyncio.LifoQueue[Any] = asyncio.LifoQueue()
            for _ in range(int(os.environ.get("BASELINE_POOL_SIZE", "10"))):
                conn = await asyncpg.connect(os.environ["BASELINE_DATABASE_URL"])
                await _init(conn)
                idle.put_nowait(conn)
            _state["idle"] = idle
            _state["tokens"] = HmacTokenCodec(os.environ["BASELINE_SECRET_KEY"])
            _state["wrote"] = asyncio.Event()
            _state["numbering"] = asyncio.create_task(_number_changes(_state["wrote"]))
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            _state["numbering"].cancel()
            idle = _state["idle"]
            while not idle.empty():
                await idle.get_nowait().close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _number_changes(wrote: asyncio.Event) -> None:
    """The change feed's numbering, as the service's sequencer does it after its writes: the
    floor's creates pay for it too (else the service's next run would number them)."""
    conn = await asyncpg.connect(os.environ["BASELINE_DATABASE_URL"])
    try:
        while True:
            await wrote.wait()
            wrote.clear()
            await sequence(conn)
    finally:
        await conn.close()


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _create(conn: Any, owner: str, body: bytes) -> bytes:
    data = _decode(body)
    now = datetime.now(UTC)
    list_id = data.get("list_id")
    values = (
        str(uuid.uuid4()),
        owner,
        data["title"],
        data.get("notes", ""),
        False,
        None,
        None,
        _RANK[data.get("priority", "none")],
        list(data.get("tags", [])),
        data.get("order"),
        now,
        now,
        1,
    )
    if list_id is None:
        r = await conn.fetchrow(PLACE_IN_OLDEST_LIST, *values, _QUOTA)
    else:
        r = await conn.fetchrow(PLACE_IN_LIST, *values[:2], list_id, *values[2:], _QUOTA)
    todo = {
        "id": values[0],
        "list_id": r[0],
        "title": values[2],
        "notes": values[3],
        "completed": False,
        "completed_at": None,
        "due": None,
        "priority": _PRIORITY[values[7]],
        "tags": values[8],
        "order": r[1],
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    return _encode(todo)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    path: str = scope["path"]
    if path == "/healthz":
        await _respond(send, 200, b'{"status":"ok"}')
        return
    owner = None
    for name, value in scope["headers"]:
        if name == b"authorization" and value.startswith(b"Bearer "):
            claims = _state["tokens"].verify(value[7:].decode(), datetime.now(UTC))
            owner = claims.user_id if claims is not None else None
    if owner is None:
        await _respond(send, 401, b'{"detail":"sign in"}')
        return
    idle: asyncio.LifoQueue[Any] = _state["idle"]
    conn = idle.get_nowait() if not idle.empty() else await idle.get()
    try:
        if scope["method"] == "POST" and path == _PREFIX:
            await _respond(send, 201, await _create(conn, owner, await _body(receive)))
            _state["wrote"].set()
        elif path == _PREFIX:
            query = dict(parse_qsl(scope["query_string"].decode()))
            limit = int(query.get("limit", "50"))
            rows = await conn.fetch(_LIST, owner, query["list_id"], limit + 1)
            items = [_out(r) for r in rows[:limit]]
            # The service's next cursor is the last item's sort key and id, base64url JSON.
            nxt = f"{items[-1]['order']}.{items[-1]['id']}" if len(rows) > limit else None
            await _respond(send, 200, _encode({"items": items, "next": nxt}))
        elif path.startswith(_PREFIX + "/"):
            try:
                r = await conn.fetchrow(TODO_BY_ID, path[len(_PREFIX) + 1 :], owner)
            except asyncpg.DataError:
                r = None
            await _respond(send, 404, _NOT_FOUND) if r is None else await _respond(send, 200, _encode(_out(r)))
        else:
            await _respond(send, 404, _NOT_FOUND)
    finally:
        idle.put_nowait(conn)
