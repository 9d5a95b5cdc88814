"""The Link: rel=next header of a page of todos."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, Request

from todostack.delivery.http.api.routes.todos import _next_link

_APP = Litestar()  # built once, outside the tests' event loop


def _request(path: str, query: bytes, root_path: str = "") -> Request[Any, Any, Any]:
    scope = {"type": "http", "app": _APP, "method": "GET", "path": path, "root_path": root_path, "query_string": query}
    return Request(scope)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", "cursor=NEXT"),
        (b"limit=2", "limit=2&cursor=NEXT"),
        (b"cursor=OLD&limit=2&q=two%20words", "limit=2&q=two%20words&cursor=NEXT"),
        (b"limit=2&cursor=OLD&cursor=OLDER", "limit=2&cursor=NEXT"),
        (b"q=a>b&cursor=OLD", "q=a%3Eb&cursor=NEXT"),
    ],
    ids=["no-query", "kept", "cursor-replaced", "every-cursor-dropped", "unsafe-encoded-again"],
)
def test_the_next_link_keeps_the_query_and_replaces_the_cursor(query: bytes, expected: str) -> None:
    assert _next_link(_request("/api/v1/todos", query), "NEXT") == f'</api/v1/todos?{expected}>; rel="next"'


def test_the_next_link_keeps_a_mount_prefix() -> None:
    link = _next_link(_request("/api/v1/todos", b"limit=2", root_path="/todo"), "N=")
    assert link == '</todo/api/v1/todos?limit=2&cursor=N%3D>; rel="next"'
