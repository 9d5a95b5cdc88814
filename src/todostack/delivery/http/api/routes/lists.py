"""Todo lists, and the bulk actions on the todos in one list."""

from __future__ import annotations

from typing import Annotated

from litestar import Response, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from msgspec import Meta, Struct

from todostack.delivery.http.api.paths import API_PREFIX
from todostack.delivery.http.api.preconditions import (
    etag,
    not_modified,
    parse_id,
    parse_if_match,
)
from todostack.delivery.http.api.request import ApiRequest
from todostack.delivery.http.api.responses import AUTHED, BODY, CONDITIONAL, NOT_MODIFIED, problems
from todostack.delivery.http.api.routes.deps import IdempotencyKey, IfMatch, IfNoneMatch
from todostack.delivery.http.api.routes.todos import _next_link as next_link
from todostack.delivery.http.api.schemas import (
    LIST_LIMIT_DEFAULT,
    LIST_LIMIT_MAX,
    REORDER_MAX,
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
    affected: Annotated[int, Meta(ge=0, le=2**63 - 1)]


class ReorderResult(Struct):
    items: Annotated[list[TodoOut], Meta(max_length=REORDER_MAX)]


def _one(todo_list: TodoList, status: int = 200, extra: dict[str, str] | None = None) -> Response[ListOut]:
    headers = {"ETag": etag(todo_list.version), **(extra or {})}
    return Response(ListOut.of(todo_list), status_code=status, headers=headers)


@get(
    "/lists",
    summary="Your lists, oldest first, one page at a time",
    description=(
        "Pages are cut by a cursor, as for todos: pass the `next` value of one page as `cursor` to get "
        "the following one (also given as a `Link: rel=next` header). The default page holds every list "
        "an account may have under the default quota."
    ),
    responses=problems(*AUTHED),
    tags=["lists"],
)
async def all_lists(
    request: ApiRequest,
    limit: Annotated[int, QueryParameter(ge=1, le=LIST_LIMIT_MAX)] = LIST_LIMIT_DEFAULT,
    cursor: Annotated[str | None, QueryParameter(max_length=1000, pattern=r"^[A-Za-z0-9_.-]*$")] = None,
) -> Response[ListPage]:
    services = request.services
    principal = request.principal
    page = await services.lists.page(principal, limit=limit, cursor=cursor)
    headers = {} if page.next_cursor is None else {"Link": next_link(request, page.next_cursor)}
    return Response(ListPage([ListOut.of(lst) for lst in page.items], page.next_cursor), headers=headers)


@post(
    "/lists",
    status_code=201,
    summary="Create a list",
    responses=problems(*AUTHED, *BODY, 403, 409),
    tags=["lists"],
)
async def create_list(
    data: JSONBody[ListCreate], request: ApiRequest, idempotency_key: IdempotencyKey = None
) -> Response[ListOut]:
    services = request.services
    principal = request.principal
    created = await services.lists.create(principal, NewList(data.name), idempotency_key)
    extra = {"Location": f"{API_PREFIX}/lists/{created.value.id}"}
    if created.replayed:
        extra["Idempotent-Replayed"] = "true"
    return _one(created.value, 201, extra)


@get(
    "/lists/{list_id:str}",
    summary="One list",
    responses=problems(*AUTHED, 404, NOT_MODIFIED),
    tags=["lists"],
)
async def get_list(list_id: FromPath[str], request: ApiRequest, if_none_match: IfNoneMatch = None) -> Response[ListOut]:
    services = request.services
    principal = request.principal
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
    list_id: FromPath[str], data: JSONBody[ListPatch], request: ApiRequest, if_match: IfMatch = None
) -> Response[ListOut]:
    services = request.services
    principal = request.principal
    updated = await services.lists.rename(principal, parse_id(list_id, "list"), data.name, parse_if_match(if_match))
    return _one(updated)


@delete(
    "/lists/{list_id:str}",
    status_code=204,
    summary="Delete a list and all its todos",
    responses=problems(*AUTHED, *CONDITIONAL),
    tags=["lists"],
)
async def delete_list(list_id: FromPath[str], request: ApiRequest, if_match: IfMatch = None) -> None:
    services = request.services
    principal = request.principal
    await services.lists.delete(principal, parse_id(list_id, "list"), parse_if_match(if_match))


@post(
    "/lists/{list_id:str}/complete-all",
    status_code=200,
    summary="Complete every open todo in the list",
    responses=problems(*AUTHED, 404),
    tags=["lists"],
)
async def complete_all(list_id: FromPath[str], request: ApiRequest) -> BulkResult:
    services = request.services
    principal = request.principal
    return BulkResult(await services.lists.complete_all(principal, parse_id(list_id, "list")))


@post(
    "/lists/{list_id:str}/clear-completed",
    status_code=200,
    summary="Delete the completed todos of the list",
    responses=problems(*AUTHED, 404),
    tags=["lists"],
)
async def clear_completed(list_id: FromPath[str], request: ApiRequest) -> BulkResult:
    services = request.services
    principal = request.principal
    return BulkResult(await services.lists.clear_completed(principal, parse_id(list_id, "list")))


@post(
    "/lists/{list_id:str}/reorder",
    status_code=200,
    summary="Set the manual order of todos: the ids in their new sequence",
    responses=problems(*AUTHED, *BODY, 404),
    tags=["lists"],
)
async def reorder(list_id: FromPath[str], data: JSONBody[ReorderIn], request: ApiRequest) -> ReorderResult:
    services = request.services
    principal = request.principal
    ids = [str(i) for i in data.todo_ids]
    todos = await services.todos.reorder(principal, parse_id(list_id, "list"), ids)
    return ReorderResult([TodoOut.of(t) for t in todos])


handlers = [all_lists, create_list, get_list, rename_list, delete_list, complete_all, clear_completed, reorder]
