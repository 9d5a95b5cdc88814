"""Spans in-process against PostgreSQL: the tree of a request, its attributes, errors and causes."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.asgi import serving
from tests.server import FAST_HASHING, migrated_schema
from todostack.bootstrap import create_app
from todostack.runtime import Settings
from todostack.usecases import TodoService


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with migrated_schema() as url:
        yield url


@asynccontextmanager
async def traced_app(url: str) -> AsyncIterator[tuple[httpx.AsyncClient, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    settings = Settings.from_env(
        {
            **FAST_HASHING,
            "TODOSTACK_DATABASE_URL": url,
            "TODOSTACK_SECRET_KEY": os.environ["TODOSTACK_SECRET_KEY"],
            "TODOSTACK_TEST_ENDPOINTS": "on",
            "TODOSTACK_WORKERS": "1",
            "TODOSTACK_METRICS_PUBLIC": "on",
        }
    )
    async with serving(create_app(settings, span_exporter=exporter)) as http:
        r = await http.post("/api/v1/auth/register", json={"email": "t@example.com", "password": "pass-word-12"})
        assert r.status_code in (201, 409), r.text  # 409: the module's schema already has this user
        token = await http.post("/api/v1/auth/token", json={"email": "t@example.com", "password": "pass-word-12"})
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        exporter.clear()
        yield http, exporter


def _by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def _children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


Traced = tuple[httpx.AsyncClient, InMemorySpanExporter]


@pytest.fixture
async def traced(pg_url: str) -> AsyncIterator[Traced]:
    """The app's start and stop are set-up, outside the test's blocked-loop watch."""
    async with traced_app(pg_url) as pair:
        yield pair


async def test_a_patch_is_one_tree_from_the_server_through_the_use_case_to_each_statement(traced: Traced) -> None:
    http, exporter = traced
    todo = (await http.post("/api/v1/todos", json={"title": "secret title"})).json()
    exporter.clear()
    r = await http.patch(f"/api/v1/todos/{todo['id']}", json={"completed": True}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    spans = exporter.get_finished_spans()

    [server] = _by_name(spans, "PATCH /api/v1/todos/{todo_id}")
    assert server.kind is SpanKind.SERVER
    assert server.parent is None
    attrs = dict(server.attributes or {})
    assert attrs["http.request.method"] == "PATCH"
    assert attrs["http.route"] == "/api/v1/todos/{todo_id}"
    assert attrs["url.path"] == f"/api/v1/todos/{todo['id']}"
    assert attrs["http.response.status_code"] == 200
    assert server.status.status_code is StatusCode.UNSET

    [usecase] = _children(spans, server)
    assert usecase.name == "todos.update"
    assert usecase.attributes is not None
    assert usecase.attributes["todostack.usecase"] == "todos.update"
    assert usecase.attributes["todostack.todo_id"] == todo["id"]

    statements = _children(spans, usecase)
    assert statements, "no database spans under the use case"
    for span in statements:
        assert span.kind is SpanKind.CLIENT
        a = dict(span.attributes or {})
        assert a["db.system.name"] == "postgresql"
        assert a["db.namespace"] == "test"
        assert a["server.address"] == "127.0.0.1"
        assert a["server.port"] == 5432
        assert "$1" in str(a["db.query.text"])  # parameterised: values never reach a span
    # Optimistic: a read, then a write that stores only over the version read (docs/observability.md).
    assert [s.name for s in statements] == ["SELECT todos", "UPDATE todos"]
    update_text = str(dict(statements[1].attributes or {})["db.query.text"])
    assert update_text.endswith("AND version = $15"), update_text
    # Titles and notes never reach a span.
    assert not any("secret title" in str(v) for s in spans for v in (s.attributes or {}).values())
    assert all(s.context.trace_id == server.context.trace_id for s in spans)


async def test_a_caller_s_traceparent_makes_the_server_span_its_child(traced: Traced) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    http, exporter = traced
    await http.get("/api/v1/lists", headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    [server] = _by_name(exporter.get_finished_spans(), "GET /api/v1/lists")
    assert format(server.context.trace_id, "032x") == trace_id
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == "00f067aa0ba902b7"


async def test_a_404_is_not_an_error_span_and_a_500_is(traced: Traced, monkeypatch: pytest.MonkeyPatch) -> None:
    async def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    http, exporter = traced
    missing = await http.get("/api/v1/todos/0190d1a4-0000-7000-8000-000000000000")
    assert missing.status_code == 404
    monkeypatch.setattr(TodoService, "search", explode)
    broken = await http.get("/api/v1/todos")
    assert broken.status_code == 500
    spans = exporter.get_finished_spans()
    [not_found] = _by_name(spans, "GET /api/v1/todos/{todo_id}")
    assert not_found.status.status_code is StatusCode.UNSET
    [failed] = _by_name(spans, "GET /api/v1/todos")
    assert failed.status.status_code is StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "500"
    assert any(e.name == "exception" for e in failed.events)


async def test_a_request_cancelled_by_its_deadline_carries_the_cause(traced: Traced) -> None:
    http, exporter = traced
    r = await http.get("/__test__/db-sleep?seconds=5", headers={"Request-Timeout": "0.2"})
    assert r.status_code == 504
    spans = exporter.get_finished_spans()
    [server] = _by_name(spans, "GET /__test__/db-sleep")
    assert (server.attributes or {})["todostack.cancel.cause"] == "deadline_exceeded"
    assert server.status.status_code is StatusCode.ERROR
    [statement] = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert (statement.attributes or {})["db.operation.name"] == "SELECT"


async def test_probes_are_not_traced(traced: Traced) -> None:
    http, exporter = traced
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await http.get(path)).status_code == 200
    assert exporter.get_finished_spans() == ()
