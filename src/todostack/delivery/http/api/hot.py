"""The hottest route answered without the framework's per-request machinery.

``GET /api/v1/todos/{id}`` is most of what a client of this service sends. Through Litestar it
costs a worker about twice the CPU of the same work done directly: routing, two exception
middlewares, the authentication middleware's connection object, the handler's signature and
its parameters, the ``Request`` and ``Response`` objects (``docs/benchmarks.md``, "The hot
route"). ``HotRoutes`` sits between the request scope (``asgi.scope``: request id, deadline,
shedding, metrics and access line, which every request still gets) and Litestar, and answers
that route itself when the request is the plain case:

* ``GET`` (a ``HEAD`` arrives as the ``GET`` it mirrors) of one todo by id, no ``root_path``;
* ``Authorization: Bearer <token>`` (the session cookie, with its same-origin rule, takes the
  framework's path);
* no ``If-None-Match`` (a conditional read takes the framework's path).

It calls the same use cases, builds the same ``TodoOut`` and sends the same headers and bytes
as ``routes.todos.get_todo``; an error is answered by the app's own exception handlers
(``problems``), so a problem+json reads the same whichever path served it. Anything else goes
to Litestar untouched. ``tests/unit/test_hot_routes.py`` sends the same requests both
ways and compares every answer; ``TODOSTACK_HOT_ROUTES=off`` turns it off.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar.exceptions import NotAuthorizedException
from litestar.types import ExceptionHandlersMap

from todostack import context
from todostack.delivery.http.api.paths import API_PREFIX
from todostack.delivery.http.api.preconditions import etag, parse_id
from todostack.delivery.http.api.request import Handed
from todostack.delivery.http.api.schemas import TodoOut
from todostack.delivery.http.asgi.types import ASGIApp, Receive, Scope, Send
from todostack.domain import AuthenticationFailed

__all__ = ["ONE_TODO_TEMPLATE", "HotRoutes"]

_ONE_TODO = f"{API_PREFIX}/todos/"
# What Litestar puts in the scope for the route (the metrics' and the access line's ``route``).
ONE_TODO_TEMPLATE = f"{API_PREFIX}/todos/{{todo_id}}"
_encode = msgspec.json.Encoder().encode
_JSON = (b"content-type", b"application/json")
_PLAIN_HOST = re.compile(rb"[0-9A-Za-z.\-:\[\]]*")


class HotRoutes:
    __slots__ = ("_app", "_handed", "_handlers", "_request_class")

    def __init__(self, app: ASGIApp, handed: Handed, handlers: ExceptionHandlersMap, request_class: type[Any]) -> None:
        self._app = app
        self._handed = handed
        self._handlers = handlers
        self._request_class = request_class  # only to answer an error as the app would

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path.startswith(_ONE_TODO) and "/" not in path[len(_ONE_TODO) :] and len(path) > len(_ONE_TODO):
                token = _plain_bearer(scope)
                if token is not None and not scope.get("root_path"):
                    await self._one_todo(scope, receive, send, path[len(_ONE_TODO) :], token)
                    return
        await self._app(scope, receive, send)

    async def _one_todo(self, scope: Scope, receive: Receive, send: Send, todo_id: str, token: str) -> None:
        scope["path_template"] = ONE_TODO_TEMPLATE
        services = self._handed.services
        try:
            try:
                principal = await services.auth.principal_for_token(token)
            except AuthenticationFailed as exc:
                raise NotAuthorizedException(exc.detail) from None  # as BearerAuthMiddleware answers
            ctx = context.current()
            if ctx is not None:
                ctx.principal = principal
            todo = await services.todos.get(principal, parse_id(todo_id, "todo"))
        except Exception as exc:  # noqa: BLE001  # answered by the app's own handlers, as Litestar would
            await self._problem(scope, receive, send, exc)
            return
        body = _encode(TodoOut.of(todo))
        headers = [(b"etag", etag(todo.version).encode()), _JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

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


def _plain_bearer(scope: Scope) -> str | None:
    """The bearer token when the request carries one and nothing that needs the framework's path:
    a conditional read, or a ``Host`` beyond plain names and addresses (the framework judges those)."""
    token = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if token is None:  # the first one counts, as BearerAuthMiddleware reads it
                scheme, _, rest = value.decode("latin-1").partition(" ")
                token = rest.strip()
                if scheme.lower() != "bearer" or not token:
                    return None
        elif name == b"if-none-match" or (name == b"host" and not _PLAIN_HOST.fullmatch(value)):
            return None
    return token
