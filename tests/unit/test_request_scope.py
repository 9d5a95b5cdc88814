"""The request scope in-process: request ids, deadlines, shedding, draining and their causes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest

from tests.asgi import Client
from tests.asgi import serving as serving_app
from todostack.bootstrap import create_app
from todostack.context import Cause
from todostack.delivery.http.asgi.lifecycle import Lifecycle
from todostack.runtime import Settings
from todostack.runtime.settings import DatabaseSettings, LimitSettings, RequestSettings, SecuritySettings

SETTINGS = Settings(
    database=DatabaseSettings(url="memory://"),
    security=SecuritySettings(argon2_time_cost=1, argon2_memory_kib=1024),
    requests=RequestSettings(read_timeout_seconds=2.0, write_timeout_seconds=2.0, max_inflight=2),
    test_endpoints=True,
    limits=LimitSettings(metrics_public=True),
)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Client]:
    # Building the app is ~50 ms of synchronous work (more when a collection lands in it): off the
    # loop, so that the tests' blocked-loop guard watches the request path, not the set-up.
    app = await asyncio.to_thread(create_app, settings)
    async with serving_app(app) as http:
        yield http


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with serving(SETTINGS) as c:
        yield c


def _lifecycle(client: Client) -> Lifecycle:
    lifecycle: Lifecycle = client.app.state.lifecycle
    return lifecycle


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("req-123", True),
        ("0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b", True),
        ("a" * 128, True),
        ("a" * 129, False),  # too long
        ("bad id with spaces", False),
        ("evil\nInjected: log line", False),  # only a safe alphabet reaches the logs
        ("semi;colon", False),
        ("", False),
    ],
)
async def test_a_valid_request_id_is_echoed_and_anything_else_replaced(client: Client, sent: str, kept: bool) -> None:
    r = await client.get("/healthz", headers={"X-Request-ID": sent})
    echoed = r.headers["x-request-id"]
    assert (echoed == sent) is kept
    assert 1 <= len(echoed) <= 128


async def test_every_answer_carries_a_request_id_even_without_a_route(client: Client) -> None:
    r = await client.get("/no/such/route")
    body = _problem(r, 404)
    assert len(body["request_id"]) == 16
    other = await client.get("/no/such/route")
    assert other.headers["x-request-id"] != r.headers["x-request-id"]


async def test_request_timeout_shortens_the_budget_and_the_answer_is_504_with_its_cause(client: Client) -> None:
    r = await client.get("/__test__/sleep?seconds=5", headers={"Request-Timeout": "0.1"})
    body = _problem(r, 504)
    assert body["cause"] == "deadline_exceeded"
    assert body["type"] == "urn:todostack:problem:deadline-exceeded"


async def test_a_deadline_after_the_disconnect_watch_has_started_still_ends_the_request(client: Client) -> None:
    # One timer serves both: at 0.5 s it starts the watch and is armed again for the deadline.
    started = time.monotonic()
    r = await client.get("/__test__/sleep?seconds=5", headers={"Request-Timeout": "0.8"})
    assert _problem(r, 504)["cause"] == "deadline_exceeded"
    assert 0.8 <= time.monotonic() - started < 4


async def test_request_timeout_never_lengthens_the_servers_budget() -> None:
    settings = replace(SETTINGS, requests=replace(SETTINGS.requests, read_timeout_seconds=0.1))
    async with serving(settings) as c:
        r = await c.get("/__test__/sleep?seconds=5", headers={"Request-Timeout": "100"})
        assert _problem(r, 504)["cause"] == "deadline_exceeded"


async def test_a_request_within_its_budget_is_untouched(client: Client) -> None:
    r = await client.get("/__test__/sleep?seconds=0.01", headers={"Request-Timeout": "5"})
    assert r.status_code == 200


@pytest.mark.parametrize("raw", ["soon", "0", "-2", "nan"])
async def test_a_malformed_request_timeout_is_a_400_that_says_why(client: Client, raw: str) -> None:
    body = _problem(await client.get("/healthz", headers={"Request-Timeout": raw}), 400)
    assert "Request-Timeout" in body["detail"]


async def test_past_the_in_flight_limit_requests_are_refused_at_once_with_retry_after(client: Client) -> None:
    slow = [asyncio.create_task(client.get("/__test__/sleep?seconds=0.5")) for _ in range(2)]
    while _lifecycle(client).inflight < 2:
        await asyncio.sleep(0.01)
    refused = await client.get("/api/v1/todos")
    body = _problem(refused, 503)
    assert body["cause"] == "overloaded"
    assert refused.headers["retry-after"] == "1"
    # Probes are never shed: a full worker is still alive and ready.
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200
    assert [(await t).status_code for t in slow] == [200, 200]


async def test_draining_turns_readiness_to_503_but_keeps_serving(client: Client) -> None:
    assert (await client.get("/readyz")).status_code == 200
    _lifecycle(client).policy = replace(_lifecycle(client).policy, pre_stop_seconds=60)
    _lifecycle(client).begin_drain("test")
    assert _problem(await client.get("/readyz"), 503)["detail"].startswith("shutting down")
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/__test__/sleep?seconds=0.01")).status_code == 200


async def test_while_draining_every_answer_closes_its_connection(client: Client) -> None:
    # Else a client sends its next request on a kept-alive connection just as the server closes
    # it, and loses it (a read error, nothing served); with the header it connects anew, to a
    # pod that stays or, once the listener has closed, gets a refusal it can retry at once.
    for path in ("/healthz", "/api/v1/lists", "/nowhere"):
        assert "connection" not in (await client.get(path)).headers
    _lifecycle(client).policy = replace(_lifecycle(client).policy, pre_stop_seconds=60)
    _lifecycle(client).begin_drain("test")
    for path in ("/healthz", "/readyz", "/api/v1/lists", "/nowhere", "/__test__/sleep?seconds=0.01"):
        assert (await client.get(path)).headers["connection"] == "close", path


async def test_requests_left_when_the_grace_period_ends_are_cancelled_with_cause_shutdown(client: Client) -> None:
    pending = asyncio.create_task(client.get("/__test__/sleep?seconds=5"))
    while _lifecycle(client).inflight < 1:
        await asyncio.sleep(0.01)
    assert _lifecycle(client).cancel_all(Cause.SHUTDOWN) == 1
    r = await pending
    body = _problem(r, 503)
    assert body["cause"] == "shutdown"
    assert r.headers["retry-after"] == "1"


async def test_cancellations_are_counted_by_cause(client: Client) -> None:
    for _ in range(2):
        await client.get("/__test__/sleep?seconds=5", headers={"Request-Timeout": "0.05"})
    metrics = (await client.get("/metrics")).text
    assert 'todostack_requests_cancelled_total{cause="deadline_exceeded"} 2.0' in metrics
    assert 'todostack_http_requests_total{method="GET",route="/__test__/sleep",status="504"} 2.0' in metrics


async def test_a_missing_token_is_a_401_problem_with_www_authenticate(client: Client) -> None:
    r = await client.get("/api/v1/lists")
    _problem(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")
