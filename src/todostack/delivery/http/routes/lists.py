"""Todo lists, and the bulk actions on the todos in one list."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from msgspec import Struct

from todostack.delivery.http.preconditions import (
    etag,
    not_modified,
    parse_id,
    parse_if_match,
)
from todostack.delivery.http.responses import AUTHED, BODY, CONDITIONAL, NOT_MODIFIED, problems
from todostack.delivery.http.routes.deps import IdempotencyKey, IfMatch, IfNoneMatch, principal_of, services_of
from todostack.delivery.http.schemas import (
    ListCreate,
    ListOut,
    ListPage,
    ListPatch,
    ReorderIn,
    TodoOut,
)
from todostack.domain import TodoList
from todostack.usecases import NewList

__all__ = ["handlers"]


class BulkResult(Struct):
    affected: int


class ReorderResult(Struct):
    items: list[TodoOut]


def _one(todo_list: TodoList, status: int = 200, extra: dict[str, str] | None = None) -> Response[ListOut]:
    headers = {"ETag": etag(todo_list.version), **(extra or {})}
    return Response(ListOut.of(todo_list), status_code=status, headers=headers)


@get("/lists", summary="All your lists, oldest first", responses=problems(*AUTHED), tags=["lists"])
async def all_lists(request: Request[Any, Any, Any]) -> ListPage:
    services = services_of(request)
    principal = principal_of(request)
    return ListPage([ListOut.of(lst) for lst in await services.lists.all(principal)])


@post("/lists", status_code=201, summary="Create a list", responses=problems(*AUTHED, *BODY, 409), tags=["lists"])
async def create_list(
    data: JSONBody[ListCreate], request: Request[Any, Any, Any], idempotency_key: IdempotencyKey = None
) -> Response[ListOut]:
    services = services_of(request)
    principal = principal_of(request)
    created = await services.lists.create(principal, NewList(data.name), idempotency_key)
    extra = {"Location": f"/api/v1/lists/{created.value.id}"}
    if created.replayed:
        extra["Idempotent-Replayed"] = "true"
    return _one(created.value, 201, extra)


@get(
    "/lists/{list_id:str}",
    summary="One list",
    responses=problems(*AUTHED, 404, NOT_MODIFIED),
    tags=["lists"],
)
async def get_list(
    list_id: FromPath[str], request: Request[Any, Any, Any], if_none_match: IfNoneMatch = None
) -> Response[ListOut]:
    services = services_of(request)
    principal = principal_of(request)
    found = await services.lists.get(principal, parse_id(list_id, "list"))
    if not_modified(if_none_match, found.version):
        return Response(None, status_code=304, headers={"ETag": etag(found.version)})  # type: ignore[arg-type]
    return _one(found)


@patch(
    "/lists/{list_id:str}",
    summary="Rename a list",
    responses=problems(*AUTHED, *BODY, *CONDITIONAL),
    tags=["lists"],
)
async def rename_list(
    list_id: FromPath[str], data: JSONBody[ListPatch], request: Request[Any, Any, Any], if_match: IfMatch = None
) -> Response[ListOut]:
    services = services_of(request)
    principal = principal_of(request)
    updated = await services.lists.rename(principal, parse_id(list_id, "list"), data.name, parse_if_match(if_match))
    return _one(updated)


@delete(
    "/lists/{list_id:str}",
    status_code=204,
    summary="Delete a list and all its todos",
    responses=problems(*AUTHED, *CONDITIONAL),
    tags=["lists"],
)
async def delete_list(list_id: FromPath[str], request: Request[Any, Any, Any], if_match: IfMatch = None) -> None:
    services = services_of(request)
    principal = principal_of(request)
    await services.lists.delete(principal, parse_id(list_id, "list"), parse_if_match(if_match))


@post(
    "/lists/{list_id:str}/complete-all",
    status_code=200,
    summary="Complete every open todo in the list",
    responses=problems(*AUTHED, 404),
    tags=["lists"],
)
async def complete_all(list_id: FromPath[str], request: Request[Any, Any, Any]) -> BulkResult:
    services = services_of(request)
    principal = principal_of(request)
    return BulkResult(await services.lists.complete_all(principal, parse_id(list_id, "list")))


@post(
    "/lists/{list_id:str}/clear-completed",
    status_code=200,
    summary="Delete the completed todos of the list",
    responses=problems(*AUTHED, 404),
    tags=["lists"],
)
async def clear_completed(list_id: FromPath[str], request: Request[Any, Any, Any]) -> BulkResult:
    services = services_of(request)
    principal = principal_of(request)
    return BulkResult(await services.lists.clear_completed(principal, parse_id(list_id, "list")))


@post(
    "/lists/{list_id:str}/reorder",
    status_code=200,
    summary="Set the manual order of todos: the ids in their new sequence",
    responses=problems(*AUTHED, *BODY, 404),
    tags=["lists"],
)
async def reorder(list_id: FromPath[str], data: JSONBody[ReorderIn], request: Request[Any, Any, Any]) -> ReorderResult:
    services = services_of(request)
    principal = principal_of(request)
    ids = [str(i) for i in data.todo_ids]
    todos = await services.todos.reorder(principal, parse_id(list_id, "list"), ids)
    return ReorderResult([TodoOut.of(t) for t in todos])


handlers = [all_lists, create_list, get_list, rename_list, delete_list, complete_all, clear_completed, reorder]
