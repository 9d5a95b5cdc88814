"""`todostack-operator run` as a process, the way its Deployment runs it: liveness endpoint, metrics, JSON logs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.operator.cluster import Cluster, running, wait_for
from tests.integration.operator.test_operator import JOBS, NS, STACKS, job_name, stack

pytestmark = pytest.mark.integration

OPERATOR = Path(sys.executable).with_name("todostack-operator")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def emulator() -> Iterator[Cluster]:
    with running(with_operator=False) as cluster:
        yield cluster


def test_the_operator_process_reconciles_and_reports_health_and_metrics(emulator: Cluster, tmp_path: Path) -> None:
    health, metrics = free_port(), free_port()
    env = {
        **os.environ,
        "TODOSTACK_OPERATOR_SERVER": emulator.url,
        "TODOSTACK_OPERATOR_HEALTH_PORT": str(health),
        "TODOSTACK_OPERATOR_METRICS_PORT": str(metrics),
        "TODOSTACK_OPERATOR_RESYNC_SECONDS": "0.5",
        "TODOSTACK_OPERATOR_LOG_FORMAT": "json",
    }
    log = tmp_path / "operator.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(OPERATOR), "run"], env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            emulator.create(STACKS, NS, stack())
            wait_for(
                "the migration Job from the process",
                lambda: emulator.get(JOBS, NS, job_name(emulator, "registry.example.com/todostack/api:1.0.0")),
            )

            def answers(url: str) -> httpx.Response | None:
                try:
                    response = httpx.get(url, timeout=5)
                except httpx.TransportError:
                    return None
                return response if response.status_code == 200 else None

            liveness = wait_for("kopf's /healthz", lambda: answers(f"http://127.0.0.1:{health}/healthz"))
            assert liveness.json()["stacks"] == 1

            def scraped() -> str | None:
                page = answers(f"http://127.0.0.1:{metrics}/metrics")
                return page.text if page is not None and "todostack_operator_reconciles_total{" in page.text else None

            text = wait_for("a reconcile step counted on /metrics", scraped)
            assert "todostack_operator_stacks 1.0" in text
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
                raise
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert records, f"no JSON log lines: {lines[:5]}"
    assert any("MigrationStarted" in record.get("message", "") for record in records), lines[:20]
    assert len(records) == len(lines), [line for line in lines if not line.startswith("{")][:5]
