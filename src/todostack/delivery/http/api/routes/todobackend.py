"""The Todo-Backend contract (todobackend.com) on a shared demo list, CORS included."""

from __future__ import annotations

import re
from typing import Annotated

from litestar import Response, Router, delete, get, patch, post, route
from litestar.enums import HttpMethod
from litestar.params import FromPath, JSONBody
from msgspec import UNSET, Meta, Struct, UnsetType

from todostack.delivery.http.api.preconditions import parse_id
from todostack.delivery.http.api.request import ApiRequest
from todostack.delivery.http.api.responses import BODY, problems
from todostack.delivery.http.api.schemas import Id, Order, OrderOut, Title, TitleOut
from todostack.domain import Todo
from todostack.usecases import UNSET as KEEP
from todostack.usecases import TodoChanges

__all__ = ["CORS_HEADERS", "todobackend_router"]

PREFIX = "/todobackend"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "Access-Control-Max-Age": "86400",
}
# A DNS name is at most 253 characters: with that bound a todo's URL stays under URL_MAX.
_HOST = re.compile(r"^[A-Za-z0-9.\-]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$")
URL_MAX = 2048


class TBCreate(Struct):
    """Unknown fields (a client echoing ``url`` or ``id``) are ignored, as the contract expects."""

    title: Title
    completed: bool = False
    order: Order | None = None


class TBUpdate(Struct):
    title: Title | UnsetType = UNSET
    completed: bool | UnsetType = UNSET
    order: Order | UnsetType = UNSET


class TBTodo(Struct):
    id: Id
    title: TitleOut
    completed: bool
    order: OrderOut
    url: Annotated[str, Meta(max_length=URL_MAX)]


# The most todos the demo list can hold (TODOSTACK_TODOBACKEND_CAPACITY's upper bound).
CAPACITY_MAX = 1_000_000


def _base_url(request: ApiRequest) -> str:
    """The URL the client used. Behind trusted proxies (``TODOSTACK_TRUSTED_PROXIES``) the scheme and the
    ``Host`` are already theirs (``asgi.proxies`` rewrote the scope); a forwarded header is never read here."""
    host = request.headers.get("host", "")
    if not _HOST.match(host):
        host = request.url.netloc
    return f"{request.url.scheme}://{host}{PREFIX}"


def _out(request: ApiRequest, todo: Todo) -> TBTodo:
    return TBTodo(todo.id, todo.title, todo.completed, todo.order, f"{_base_url(request)}/{todo.id}")


@route("/", http_method=HttpMethod.OPTIONS, include_in_schema=False)
async def preflight_collection(request: ApiRequest) -> Response[None]:
    return _preflight(request)


@route("/{todo_id:str}", http_method=HttpMethod.OPTIONS, include_in_schema=False)
async def preflight_item(request: ApiRequest) -> Response[None]:
    return _preflight(request)


def _preflight(request: ApiRequest) -> Response[None]:
    asked = request.headers.get("access-control-request-headers", "Content-Type")
    # The other CORS headers are added to every /todobackend answer, errors included (see app.py).
    return Response(None, status_code=204, headers={"Access-Control-Allow-Headers": asked})


@get("/", summary="All todos of the demo list")
async def tb_all(request: ApiRequest) -> Annotated[list[TBTodo], Meta(max_length=CAPACITY_MAX)]:
    services = request.services
    return [_out(request, t) for t in await services.todobackend.all()]


@post("/", status_code=201, summary="Add a todo to the demo list", responses=problems(*BODY, 409))
async def tb_create(request: ApiRequest, data: JSONBody[TBCreate]) -> Response[TBTodo]:
    services = request.services
    todo = _out(request, await services.todobackend.create(data.title, data.completed, data.order))
    return Response(todo, status_code=201, headers={"Location": todo.url})


@delete("/", status_code=204, summary="Delete every todo of the demo list", responses=problems(400))
async def tb_delete_all(request: ApiRequest) -> None:
    services = request.services
    await services.todobackend.delete_all()


@get("/{todo_id:str}", summary="One demo todo", responses=problems(400, 404))
async def tb_get(request: ApiRequest, todo_id: FromPath[str]) -> TBTodo:
    services = request.services
    return _out(request, await services.todobackend.get(parse_id(todo_id, "todo")))


async def _update(request: ApiRequest, todo_id: FromPath[str], data: JSONBody[TBUpdate]) -> TBTodo:
    services = request.services
    changes = TodoChanges(
        title=KEEP if data.title is UNSET else data.title,
        completed=KEEP if data.completed is UNSET else data.completed,
        order=KEEP if data.order is UNSET else data.order,
    )
    return _out(request, await services.todobackend.update(parse_id(todo_id, "todo"), changes))


@patch("/{todo_id:str}", summary="Change a demo todo", responses=problems(*BODY, 404))
async def tb_patch(request: ApiRequest, todo_id: FromPath[str], data: JSONBody[TBUpdate]) -> TBTodo:
    return await _update(request, todo_id, data)


@route(
    "/{todo_id:str}",
    http_method=HttpMethod.PUT,
    summary="Replace a demo todo (read-only fields in the body are ignored)",
    responses=problems(*BODY, 404),
)
async def tb_put(request: ApiRequest, todo_id: FromPath[str], data: JSONBody[TBUpdate]) -> TBTodo:
    return await _update(request, todo_id, data)


@delete("/{todo_id:str}", status_code=204, summary="Delete a demo todo", responses=problems(400, 404))
async def tb_delete(todo_id: FromPath[str], request: ApiRequest) -> None:
    services = request.services
    await services.todobackend.delete(parse_id(todo_id, "todo"))


def todobackend_router() -> Router:
    return Router(
        PREFIX,
        route_handlers=[
            preflight_collection,
            preflight_item,
            tb_all,
            tb_create,
            tb_delete_all,
            tb_get,
            tb_patch,
            tb_put,
            tb_delete,
        ],
        tags=["todobackend"],
    )
