"""The service's own USDT probes, traced by the scripts against a live worker: counts must match."""

from __future__ import annotations

import re
import uuid
from collections import Counter

import pytest

from tests.integration.ebpf.conftest import Served
from tests.integration.ebpf.helpers import maps, samples, wait_until
from todostack.ebpf.trace import Tracer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _api_requests(client_metrics: dict[tuple[tuple[str, str], ...], float]) -> float:
    return sum(value for labels, value in client_metrics.items() if dict(labels)["route"].startswith("/api/"))


def test_requests_script_counts_every_request_the_worker_answered(sqlite_served: Served) -> None:
    with sqlite_served.client() as client:
        list_id = client.post("/api/v1/lists", json={"name": "traced"}).raise_for_status().json()["id"]
        before = _api_requests(samples(client, "todostack_http_requests_total"))
        sent: Counter[int] = Counter()
        ours = set()
        with Tracer.run("requests", sqlite_served.worker) as tracer:
            for n in range(24):
                request_id = f"ebpf-ok-{n:04d}"
                ours.add(request_id)
                sent[client.get(f"/api/v1/lists/{list_id}", headers={"X-Request-ID": request_id}).status_code] += 1
            for _ in range(9):
                sent[client.get(f"/api/v1/lists/{uuid.uuid4()}").status_code] += 1
            with sqlite_served.server.client() as anonymous:
                for _ in range(5):
                    sent[anonymous.get("/api/v1/lists").status_code] += 1
            total = sum(sent.values())
            # The metrics are counted in the same breath as the probe fires: once /metrics shows
            # every request, every request__done has fired.
            wait_until(
                lambda: _api_requests(samples(client, "todostack_http_requests_total")) >= before + total,
                30,
                "the worker counting every request",
            )
            output = tracer.stop()
    assert sent == {200: 24, 404: 9, 401: 5}, sent
    found = maps(output)
    traced: Counter[int] = Counter()
    for (method, route, status), count in found["requests"].items():
        if route.startswith("/api/"):
            assert method == "GET"
            traced[int(status)] += count
    assert traced == sent, output
    slowest = found["slowest_us"]
    assert len(slowest) == 10, output
    assert all(duration > 0 for duration in slowest.values())
    # Every request id in the table is one the service saw: ours, or ids it made for the others.
    assert {key[0] for key in slowest} & ours or all(len(key[0]) == 16 for key in slowest), output
    assert "latency (µs) by method, route, status" in output
    assert "[" in output.split("latency (µs)")[1]  # a histogram's buckets


def test_db_script_counts_every_statement_the_worker_ran(sqlite_served: Served) -> None:
    with sqlite_served.client() as client:
        before = samples(client, "db_client_operation_duration_seconds_count")
        with Tracer.run("db", sqlite_served.worker) as tracer:
            created = [
                client.post("/api/v1/lists", json={"name": f"db-{n}"}).raise_for_status().json()["id"] for n in range(6)
            ]
            for list_id in created:
                client.get(f"/api/v1/lists/{list_id}").raise_for_status()
            client.get("/api/v1/lists").raise_for_status()

            def counted() -> dict[str, float]:
                after = samples(client, "db_client_operation_duration_seconds_count")
                return {
                    dict(labels)["db_operation_name"]: value - before.get(labels, 0.0)
                    for labels, value in after.items()
                    if value - before.get(labels, 0.0) > 0
                }

            # The statements a request runs are all observed before its response is sent.
            wait_until(lambda: sum(counted().values()) > 0, 30, "the worker counting statements")
            expected = counted()
            output = tracer.stop()
    traced: Counter[str] = Counter()
    for (system, operation, table), count in maps(output)["statements"].items():
        assert system == "sqlite"
        assert table != "", output
        traced[operation] += count
    assert dict(traced) == expected, output
    assert traced["INSERT"] >= 6, output
    assert traced["SELECT"] >= 7, output
    summary = re.search(r"statements started (\d+), done (\d+), at most (\d+) at once", output)
    assert summary is not None, output
    started, done, at_once = (int(x) for x in summary.groups())
    assert started == done == sum(expected.values()), output
    assert at_once >= 1, output


def test_a_second_tracer_sees_only_its_own_window(sqlite_served: Served) -> None:
    # Requests between two tracers reach no tracer: the first one's detach lowered the semaphores,
    # and the second counts from zero.
    with sqlite_served.client() as client:
        with Tracer.run("requests", sqlite_served.worker):
            client.get("/api/v1/lists").raise_for_status()
        for _ in range(5):
            client.get("/api/v1/lists").raise_for_status()
        before = _api_requests(samples(client, "todostack_http_requests_total"))
        with Tracer.run("requests", sqlite_served.worker) as tracer:
            client.get("/api/v1/lists").raise_for_status()
            wait_until(
                lambda: _api_requests(samples(client, "todostack_http_requests_total")) >= before + 1,
                30,
                "the worker counting the request",
            )
            output = tracer.stop()
    api = {key: n for key, n in maps(output)["requests"].items() if key[1].startswith("/api/")}
    assert api == {("GET", "/api/v1/lists", "200"): 1}, output
