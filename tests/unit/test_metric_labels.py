"""Nothing a client sends becomes a new Prometheus series: methods and statuses are bounded."""

from __future__ import annotations

import pytest

from todostack.observability.labels import method_label, status_label
from todostack.observability.metrics import Metrics

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("method", "label"),
    [("GET", "GET"), ("PATCH", "PATCH"), ("QUERY", "_OTHER"), ("get", "_OTHER"), ("X" * 200, "_OTHER")],
    ids=["get", "patch", "made-up", "lower-case", "long"],
)
def test_unknown_methods_are_other(method: str, label: str) -> None:
    assert method_label(method) == label


@pytest.mark.parametrize(("status", "label"), [(200, 200), (599, 599), (99, 0), (600, 0), (1000, 0)])
def test_statuses_outside_http_are_one_label(status: int, label: int) -> None:
    assert status_label(status) == label


def test_made_up_methods_share_one_series() -> None:
    metrics = Metrics()
    for i in range(300):
        metrics.observe_request(f"M{i}", "unmatched", 405, 0.001, None)
    exposition = metrics.exposition().decode()
    lines = [line for line in exposition.splitlines() if line.startswith("todostack_http_requests_total{")]
    assert lines == ['todostack_http_requests_total{method="_OTHER",route="unmatched",status="405"} 300.0']
