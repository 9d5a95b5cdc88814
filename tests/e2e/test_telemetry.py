"""Telemetry of a real server: OTLP bytes as Jaeger would get them, /metrics over 2 workers, logs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from tests.server import run_postgres_server, run_server


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver: decodes what arrives on /v1/traces and /v1/metrics."""

    traces: list[ExportTraceServiceRequest]
    metrics: list[ExportMetricsServiceRequest]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            self.traces.append(ExportTraceServiceRequest.FromString(body))
        elif self.path == "/v1/metrics":
            self.metrics.append(ExportMetricsServiceRequest.FromString(body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, type[_Collector]]]:
    handler = type("Collector", (_Collector,), {"traces": [], "metrics": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


def _attrs(items: object) -> dict[str, object]:
    out: dict[str, object] = {}
    for kv in items:  # type: ignore[attr-defined]
        value = kv.value
        out[kv.key] = getattr(value, value.WhichOneof("value"))
    return out


def _wait(predicate: object, seconds: float) -> None:
    assert callable(predicate)
    end = time.monotonic() + seconds
    while time.monotonic() < end and not predicate():
        time.sleep(0.1)


def test_spans_and_metrics_reach_an_otlp_receiver_and_logs_name_the_trace(
    tmp_path: Path, collector: tuple[str, type[_Collector]]
) -> None:
    endpoint, received = collector
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": "todostack-e2e",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
    }
    with run_postgres_server(tmp_path, env=env) as server:
        with server.client() as http:
            http.post("/api/v1/auth/register", json={"email": "otlp@example.com", "password": "pass-word-12"})
            token = http.post("/api/v1/auth/token", json={"email": "otlp@example.com", "password": "pass-word-12"})
            auth = {"Authorization": f"Bearer {token.json()['access_token']}", "X-Request-ID": "otlp-check-1"}
            todo = http.post("/api/v1/todos", json={"title": "traced"}, headers=auth).json()
            got = http.get(f"/api/v1/todos/{todo['id']}", headers={**auth, "X-Request-ID": "otlp-check-2"})
            assert got.status_code == 200
        _wait(lambda: any(_server_spans(received.traces, "GET /api/v1/todos/{todo_id}")), 10)
        _wait(lambda: _metric_names(received.metrics) >= {"http.server.request.duration"}, 10)
        _wait(lambda: '"otlp-check-2"' in server.log.read_text(), 5)  # access lines are buffered (0.2 s)
        log = server.log.read_text()

    [(resource, span)] = _server_spans(received.traces, "GET /api/v1/todos/{todo_id}")
    assert resource["service.name"] == "todostack-e2e"
    assert resource["deployment.environment.name"] == "test"
    attributes = _attrs(span.attributes)
    assert attributes["http.route"] == "/api/v1/todos/{todo_id}"
    assert attributes["http.response.status_code"] == 200
    trace_id = span.trace_id.hex()
    every_span = [
        s for request in received.traces for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans
    ]
    in_trace = [s for s in every_span if s.trace_id.hex() == trace_id]
    db = [_attrs(s.attributes) for s in in_trace if s.kind == s.SPAN_KIND_CLIENT]
    assert db
    assert all(a["db.system.name"] == "postgresql" for a in db)
    assert {"todos.get"} <= {s.name for s in in_trace}
    assert {"http.server.request.duration", "db.client.operation.duration"} <= _metric_names(received.metrics)

    # The access line of that request names the same trace and span.
    line = next(
        json.loads(x) for x in log.splitlines() if x.startswith("{") and '"otlp-check-2"' in x and '"request"' in x
    )
    assert line["trace_id"] == trace_id
    assert line["span_id"] == span.span_id.hex()
    assert token.json()["access_token"] not in log  # no credential reaches the log


def _server_spans(requests: list[ExportTraceServiceRequest], name: str) -> list[tuple[dict[str, object], Any]]:
    found = []
    for request in requests:
        for rs in request.resource_spans:
            resource = _attrs(rs.resource.attributes)
            for ss in rs.scope_spans:
                found += [(resource, s) for s in ss.spans if s.name == name and s.kind == s.SPAN_KIND_SERVER]
    return found


def _metric_names(requests: list[ExportMetricsServiceRequest]) -> set[str]:
    return {m.name for r in requests for rm in r.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}


def test_metrics_add_up_over_two_workers(tmp_path: Path) -> None:
    sent = 120
    env = {"TODOSTACK_TEST_ENDPOINTS": "on"}
    with run_server(f"sqlite:///{tmp_path}/m.db", tmp_path, workers=2, env=env) as server:
        pids = set()
        for _ in range(sent):
            # A connection per request, so that both workers get some.
            with httpx.Client(base_url=server.url, timeout=10) as http:
                pids.add(http.get("/__test__/sleep", params={"seconds": 0.001}).json()["pid"])
        with httpx.Client(base_url=server.url, timeout=10) as http:
            time.sleep(2.5)  # one round of the per-worker samplers
            scrape = http.get("/metrics").text
    assert len(pids) == 2, "the requests all went to one worker"
    families = {f.name: f for f in text_string_to_metric_families(scrape)}
    served = sum(
        s.value
        for s in families["todostack_http_requests"].samples
        if s.name.endswith("_total") and s.labels["route"] == "/__test__/sleep"
    )
    assert served == sent
    durations = [
        s
        for s in families["http_server_request_duration_seconds"].samples
        if s.name.endswith("_count") and s.labels["http_route"] == "/__test__/sleep"
    ]
    assert sum(s.value for s in durations) == sent
    per_worker = {s.labels["pid"] for s in families["todostack_process_resident_memory_bytes"].samples}
    assert {str(p) for p in pids} <= per_worker
    assert "todostack_gc_collections" in families
    assert "todostack_event_loop_lag_seconds" in families
