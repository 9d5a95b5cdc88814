"""The bench names the statuses behind wrk's non-2xx count, from the service's own counters."""

from __future__ import annotations

from todostack.bench.report import summarize, write_report
from todostack.bench.servers import answered_counts

EXPOSITION = """\
# HELP todostack_http_requests_total HTTP requests answered
# TYPE todostack_http_requests_total counter
todostack_http_requests_total{method="GET",route="/api/v1/todos/{todo_id}",status="200"} 1200.0
todostack_http_requests_total{method="PATCH",route="/api/v1/todos/{todo_id}",status="503"} 7.0
todostack_http_requests_total{method="GET",route="/api/v1/todos",status="503"} 2.0
todostack_http_requests_total{method="PATCH",route="/api/v1/todos/{todo_id}",status="412"} 1.0
todostack_http_requests_created{method="GET",route="/api/v1/todos",status="503"} 1.7e9
http_server_request_duration_seconds_count{http_response_status_code="503"} 9.0
"""


def test_answered_counts_sum_over_routes_and_ignore_other_series() -> None:
    assert answered_counts(EXPOSITION) == {"200": 1200, "503": 9, "412": 1}
    assert answered_counts("") == {}


def _run(repeat: int, statuses: dict[str, int]) -> dict[str, object]:
    return {
        "target": "todostack",
        "backend": "sqlite",
        "scenario": "patch",
        "connections": 256,
        "repeat": repeat,
        "rps": 1000.0,
        "p50_ms": 1.0,
        "p90_ms": 2.0,
        "p99_ms": 3.0,
        "max_ms": 4.0,
        "errors": 0,
        "non_2xx": sum(statuses.values()),
        "worker_hwm_mib": {1: 70.0},
        "worker_cpu_cores": {1: 0.9},
        "load_average_before": 1.0,
        "non_2xx_statuses": statuses,
    }


def test_the_report_shows_the_statuses_summed_over_repeats(tmp_path) -> None:  # type: ignore[no-untyped-def]
    runs = [_run(1, {"503": 40}), _run(2, {"429": 3, "503": 5}), _run(3, {})]
    [row] = summarize(runs)
    assert row["non_2xx"] == 48
    assert row["non_2xx_statuses"] == {"429": 3, "503": 45}
    docs = tmp_path / "benchmarks.md"
    machine = {"cores": 2, "cpu": "test", "memory_gib": 1, "kernel": "6", "python": "3.11"}
    results = {
        "runs": runs,
        "machine": machine,
        "started_at": "2026-11-25T00:00:00+00:00",
        "label": "test",
        "elapsed_seconds": 1.0,
        "command": "todostack bench",
        "workers": 1,
        "service_env": {},
        "cold_start_seconds": {},
    }
    write_report(results, tmp_path / "r.json", docs)
    assert "| 48 (429x3, 503x45) |" in docs.read_text()


def test_runs_recorded_before_statuses_were_counted_still_summarize() -> None:
    old = _run(1, {})
    del old["non_2xx_statuses"]
    [row] = summarize([old])
    assert row["non_2xx_statuses"] == {}


def test_the_report_has_p99_9_and_max_and_says_coordinated_omission_was_not_corrected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    runs = [{**_run(n, {}), "p999_ms": 5.0 + n, "max_ms": 10.0 * n, "co_corrected": False} for n in (1, 2, 3)]
    [row] = summarize(runs)
    assert (row["p999_ms"], row["max_ms"], row["co_corrected"]) == (7.0, 30.0, False)
    docs = tmp_path / "benchmarks.md"
    machine = {"cores": 2, "cpu": "test", "memory_gib": 1, "kernel": "6", "python": "3.11"}
    results = {
        "runs": runs,
        "machine": machine,
        "started_at": "2026-11-25T00:00:00+00:00",
        "label": "test",
        "elapsed_seconds": 1.0,
        "command": "todostack bench",
        "workers": 1,
        "service_env": {},
        "cold_start_seconds": {},
    }
    write_report(results, tmp_path / "r.json", docs)
    text = docs.read_text()
    assert "| p99 ms | p99.9 ms | max ms |" in text
    assert "| 3.00 | 7.00 | 30.0 |" in text
    assert "Coordinated-omission correction: **not applied**" in text
