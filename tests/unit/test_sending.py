"""JsonResponse sends what Litestar's Response would, byte for byte, or takes Litestar's path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar, Request, Response
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import Cookie
from litestar.response.base import ASGIResponse

from todostack.delivery.http.api.schemas import TodoOut, TodoPage
from todostack.delivery.http.asgi.sending import JsonResponse

_WHEN = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
_TODO = TodoOut("id-1", "list-1", "Zoë's \u2603", "notes", False, None, _WHEN, "high", ["a", "b"], 3, _WHEN, _WHEN, 7)


_APP = Litestar()  # built once, outside the tests' event loop: it takes a while


def _request() -> Request[Any, Any, Any]:
    return Request({"type": "http", "app": _APP, "method": "GET", "path": "/"})  # type: ignore[arg-type]


async def _nothing() -> None:
    return None


async def _sent(response: Any, **kwargs: Any) -> list[dict[str, Any]]:
    request = _request()
    asgi = response.to_asgi_response(None, request, **kwargs)
    messages: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        messages.append(dict(message))

    async def receive() -> Any:
        return {"type": "http.disconnect"}

    await asgi({"type": "http"}, receive, send)
    return messages


@pytest.mark.parametrize(
    ("content", "status", "headers"),
    [
        (_TODO, None, {"ETag": '"7"'}),
        (_TODO, 201, {"ETag": '"7"', "Location": "/api/v1/todos/id-1", "Idempotent-Replayed": "true"}),
        (TodoPage([_TODO, _TODO], "next-cursor"), None, {"Link": '</api/v1/todos?cursor=x>; rel="next"'}),
        (TodoPage([], None), None, {}),
    ],
    ids=["one", "created", "page", "empty-page"],
)
async def test_the_short_way_sends_what_litestar_sends(
    content: object, status: int | None, headers: dict[str, str]
) -> None:
    ours = await _sent(JsonResponse(content, status_code=status, headers=headers), headers={}, cookies=[])
    litestars = await _sent(Response(content, status_code=status, headers=headers), headers={}, cookies=[])
    assert ours == litestars
    assert ours[0]["status"] == (status or 200)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cookies": [Cookie("k", "v")]},
        {"headers": {"X-Layer": "1"}},
        {"background": BackgroundTask(_nothing)},
    ],
    ids=["layer-cookie", "layer-header", "background-task"],
)
async def test_anything_to_merge_takes_litestars_path(kwargs: dict[str, Any]) -> None:
    request = _request()
    asgi = JsonResponse(_TODO).to_asgi_response(None, request, **kwargs)
    assert isinstance(asgi, ASGIResponse)
    assert await _sent(JsonResponse(_TODO), **kwargs) == await _sent(Response(_TODO), **kwargs)


async def test_no_body_takes_litestars_path() -> None:
    request = _request()
    asgi = JsonResponse(None, status_code=304, headers={"ETag": '"7"'}).to_asgi_response(None, request)
    assert isinstance(asgi, ASGIResponse)
