"""The hottest routes answered without the framework's per-request machinery.

Reading one todo, a page of todos, and creating one are most of what a client of this service
sends. Through
Litestar a read costs a worker about twice the CPU of the same work done directly: routing, two
exception middlewares, the authentication middleware's connection object, the handler's signature
and its parameters, the ``Request`` and ``Response`` objects (``docs/benchmarks.md``, "The hot
routes"). ``HotRoutes`` sits between the request scope (``asgi.scope``: request id, deadline,
shedding, disconnects, metrics and access line, which every request still gets) and Litestar, and
answers these itself when the request is the plain case:

* ``GET /api/v1/todos/{id}`` (a ``HEAD`` arrives as the ``GET`` it mirrors), without
  ``If-None-Match`` (a conditional read takes the framework's path);
* ``GET /api/v1/todos`` whose query string holds only ``list_id``, ``limit`` and ``cursor``, each
  once and in its plain form (filters, sorting and any other spelling take the framework's path);
* ``POST /api/v1/todos`` with a JSON body that decodes strictly into ``TodoCreate`` (any other
  body is handed to Litestar as it arrived, for its 400, 413, 415 or 422), and an
  ``Idempotency-Key`` the framework would accept, if any;
* ``Authorization: Bearer <token>`` (the session cookie, with its same-origin rule, takes the
  framework's path), no ``root_path``, a plain ``Host``.

It calls the same use cases, builds the same ``TodoOut`` and sends the same headers and bytes as
``routes.todos``; an error is answered by the app's own exception handlers (``problems``), so a
problem+json reads the same whichever path served it. Anything else goes to Litestar untouched.
``tests/unit/test_hot_routes.py`` sends the same requests both ways and compares every answer;
``TODOSTACK_HOT_ROUTES=off`` turns it off.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import msgspec
from litestar.exceptions import NotAuthorizedException
from litestar.types import ExceptionHandlersMap

from todostack import context
from todostack.delivery.http.api.auth import bearer_token
from todostack.delivery.http.api.paths import API_PREFIX
from todostack.delivery.http.api.preconditions import etag, parse_id
from todostack.delivery.http.api.request import Handed
from todostack.delivery.http.api.routes.todos import LIST_DEFAULT, LIST_LIMIT, new_todo, next_link_as_sent
from todostack.delivery.http.api.schemas import TodoCreate, TodoOut, TodoPage
from todostack.delivery.http.asgi.bodies import MAX_NESTING, is_json, nests_deeper_than
from todostack.delivery.http.asgi.types import ASGIApp, RawHeaders, Receive, Scope, Send
from todostack.domain import AuthenticationFailed, Principal, Todo
from todostack.usecases import SortField, TodoFilter

__all__ = ["ONE_TODO_TEMPLATE", "TODOS_TEMPLATE", "HotRoutes"]

# What Litestar puts in the scope for each route (the metrics' and the access line's ``route``).
TODOS_TEMPLATE = f"{API_PREFIX}/todos"
ONE_TODO_TEMPLATE = f"{API_PREFIX}/todos/{{todo_id}}"
_ONE_TODO = TODOS_TEMPLATE + "/"
_encode = msgspec.json.Encoder().encode
_decode_create = msgspec.json.Decoder(TodoCreate).decode
_JSON = (b"content-type", b"application/json")
_PLAIN_HOST = re.compile(rb"[0-9A-Za-z.\-:\[\]]*")
_UUID = re.compile(rb"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_LIMIT = re.compile(rb"[1-9][0-9]{0,2}")
_CURSOR = re.compile(rb"[A-Za-z0-9_\-.]{1,1000}")  # ``usecases.queries.CursorCodec``: base64url, a dot
_IDEMPOTENCY_KEY = re.compile(rb"[\x21-\x7e]{1,255}")  # as ``routes.deps.IdempotencyKey`` accepts


class HotRoutes:
    __slots__ = ("_app", "_handed", "_handlers", "_max_body", "_request_class")

    def __init__(
        self,
        app: ASGIApp,
        handed: Handed,
        handlers: ExceptionHandlersMap,
        request_class: type[Any],
        max_body_bytes: int,
    ) -> None:
        self._app = app
        self._handed = handed
        self._handlers = handlers
        self._request_class = request_class  # only to answer an error as the app would
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            method: str = scope["method"]
            path: str = scope["path"]
            if method == "GET":
                todo_id = path[len(_ONE_TODO) :]
                if path.startswith(_ONE_TODO) and todo_id and "/" not in todo_id:
                    plain = _plain(scope)
                    if plain is not None:
                        await self._one_todo(scope, receive, send, todo_id, plain[0])
                        return
                elif path == TODOS_TEMPLATE:
                    page = _page_query(scope["query_string"])
                    plain = _plain(scope) if page is not None else None
                    if plain is not None and page is not None:
                        await self._list_page(scope, receive, send, plain[0], *page)
                        return
            elif method == "POST" and path == TODOS_TEMPLATE:
                plain = _plain(scope)
                if plain is not None and plain[1]:
                    await self._create(scope, receive, send, plain[0], plain[2])
                    return
        await self._app(scope, receive, send)

    async def _principal(self, token: str) -> Principal:
        try:
            principal = await self._handed.services.auth.principal_for_token(token)
        except AuthenticationFailed as exc:
            raise NotAuthorizedException(exc.detail) from None  # as BearerAuthMiddleware answers
        ctx = context.current()
        if ctx is not None:
            ctx.principal = principal
        return principal

    async def _one_todo(self, scope: Scope, receive: Receive, send: Send, todo_id: str, token: str) -> None:
        scope["path_template"] = ONE_TODO_TEMPLATE
        try:
            principal = await self._principal(token)
            todo = await self._handed.services.todos.get(principal, parse_id(todo_id, "todo"))
        except Exception as exc:  # noqa: BLE001  # answered by the app's own handlers, as Litestar would
            await self._problem(scope, receive, send, exc)
            return
        await _send_todo(send, todo, 200)

    async def _list_page(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        token: str,
        list_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> None:
        scope["path_template"] = TODOS_TEMPLATE
        try:
            principal = await self._principal(token)
            page = await self._handed.services.todos.search(
                principal,
                TodoFilter(list_id=list_id),
                sort=SortField.ORDER,
                descending=False,
                limit=limit,
                cursor=cursor,
            )
        except Exception as exc:  # noqa: BLE001  # answered by the app's own handlers, as Litestar would
            await self._problem(scope, receive, send, exc)
            return
        body = _encode(TodoPage([TodoOut.of(t) for t in page.items], page.next_cursor))
        headers: RawHeaders = []
        if page.next_cursor is not None:
            link = next_link_as_sent(scope, page.next_cursor)
            assert link is not None  # the query string was checked to be plain
            headers.append((b"link", link.encode("latin-1")))
        headers += (_JSON, (b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _create(self, scope: Scope, receive: Receive, send: Send, token: str, key: str | None) -> None:
        """A JSON body that decodes strictly into ``TodoCreate`` is created here; any other body
        (too large, too deep, not JSON, not valid) goes to Litestar as it arrived, for its answer."""
        read: list[Any] = []  # the messages taken from ``receive``
        size = 0
        more = True
        try:
            while more and size <= self._max_body:
                message = await receive()
                read.append(message)
                if message["type"] != "http.request":  # a disconnect: the framework's path answers it
                    break
                size += len(message.get("body", b""))
                more = message.get("more_body", False)
        except Exception as exc:  # noqa: BLE001  # an incomplete body: the framework's own answer
            await self._app(scope, _Replay(read, receive, exc), send)
            return
        data = None
        if not more:
            body = b"".join(m.get("body", b"") for m in read)
            if not nests_deeper_than(body, MAX_NESTING):
                with contextlib.suppress(msgspec.MsgspecError, UnicodeDecodeError):
                    data = _decode_create(body)
        if data is None:
            await self._app(scope, _Replay(read, receive), send)
            return
        await self._create_todo(scope, receive, send, token, key, data)

    async def _create_todo(
        self, scope: Scope, receive: Receive, send: Send, token: str, key: str | None, data: TodoCreate
    ) -> None:
        scope["path_template"] = TODOS_TEMPLATE
        try:
            principal = await self._principal(token)
            created = await self._handed.services.todos.create(principal, new_todo(data), key)
        except Exception as exc:  # noqa: BLE001  # answered by the app's own handlers, as Litestar would
            await self._problem(scope, receive, send, exc)
            return
        extra = [(b"location", f"{TODOS_TEMPLATE}/{created.value.id}".encode())]
        if created.replayed:
            extra.append((b"idempotent-replayed", b"true"))
        await _send_todo(send, created.value, 201, extra)

    async def _problem(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        handler = None
        for cls in type(exc).__mro__:  # the most specific handler, as Litestar looks it up
            handler = self._handlers.get(cls)
            if handler is not None:
                break
        if handler is None:
            raise exc
        request = self._request_class(scope, receive, send)
        response = handler(request, exc)
        answer: Any = response.to_asgi_response(app=None, request=request)
        await answer(scope, receive, send)


async def _send_todo(send: Send, todo: Todo, status: int, extra: RawHeaders | None = None) -> None:
    """The headers ``routes.todos`` sends, in its order: ETag, the route's own, then the body's."""
    body = _encode(TodoOut.of(todo))
    headers = [
        (b"etag", etag(todo.version).encode()),
        *(extra or ()),
        _JSON,
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class _Replay:
    """The ``receive`` Litestar gets after the hot path read (part of) the body: the messages it
    took, in order, then what reading raised, or the rest from the client."""

    __slots__ = ("_error", "_read", "_receive")

    def __init__(self, read: list[Any], receive: Receive, error: Exception | None = None) -> None:
        self._read = read
        self._receive = receive
        self._error = error

    async def __call__(self) -> Any:
        if self._read:
            return self._read.pop(0)
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return await self._receive()


def _page_query(raw: bytes) -> tuple[str | None, int, str | None] | None:
    """``(list_id, limit, cursor)`` when the query string holds nothing but these, each once and
    in its plain form (a canonical UUID, a limit from 1 to ``LIST_LIMIT``, a cursor as the service
    writes it); any other parameter, repetition or spelling is the framework's to read."""
    list_id = cursor = None
    limit = LIST_DEFAULT
    seen: set[bytes] = set()
    for part in raw.split(b"&") if raw else ():
        name, _, value = part.partition(b"=")
        if name in seen:
            return None
        seen.add(name)
        if name == b"list_id" and _UUID.fullmatch(value):
            list_id = value.decode("ascii").lower()
        elif name == b"limit" and _LIMIT.fullmatch(value) and int(value) <= LIST_LIMIT:
            limit = int(value)
        elif name == b"cursor" and _CURSOR.fullmatch(value):
            cursor = value.decode("ascii")
        else:
            return None
    return list_id, limit, cursor


def _plain(scope: Scope) -> tuple[str, bool, str | None] | None:
    """``(bearer token, JSON body?, Idempotency-Key)`` when the request carries a bearer token and
    nothing that needs the framework's path: a conditional read, an Idempotency-Key it would
    refuse, or a ``Host`` beyond plain names and addresses (the framework judges those)."""
    token = key = None
    json = False
    for name, value in scope["headers"]:
        if name == b"authorization":
            if token is None:  # the first one counts, as BearerAuthMiddleware reads it
                token = bearer_token(value.decode("latin-1"))
                if token is None:
                    return None
        elif name == b"content-type":
            json = is_json(value.decode("latin-1"))
        elif name == b"idempotency-key":
            if key is not None or not _IDEMPOTENCY_KEY.fullmatch(value):
                return None
            key = value.decode("ascii")
        elif name == b"if-none-match" or (name == b"host" and not _PLAIN_HOST.fullmatch(value)):
            return None
    return None if token is None else (token, json, key)
