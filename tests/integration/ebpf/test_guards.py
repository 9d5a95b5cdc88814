"""The guards script against a live worker: a deadline cut, an autoprof report and a memory step, each seen."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.ebpf.conftest import worker_of
from tests.integration.ebpf.helpers import maps, wait_until
from tests.server import RunningServer, run_server
from todostack.ebpf.trace import Tracer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

GUARDED = {
    "TODOSTACK_TEST_ENDPOINTS": "on",
    # A GET's budget: a 3 s sleep is cut off by its deadline.
    "TODOSTACK_READ_TIMEOUT_SECONDS": "0.5",
    # autoprof checks twice a second, over a 1.5 s window, against this machine's two CPUs: a 6 s
    # burn of one thread is 0.5 of them (0.15 was seen with six other test runs busy), an idle
    # worker under 0.02.
    "TODOSTACK_AUTOPROF_INTERVAL_SECONDS": "0.5",
    "TODOSTACK_AUTOPROF_WINDOW_CHECKS": "3",
    "TODOSTACK_AUTOPROF_CPU_SECONDS": "1",
    "TODOSTACK_AUTOPROF_CPU_THRESHOLD": "0.08",
    "TODOSTACK_AUTOPROF_LAG_THRESHOLD_SECONDS": "0",
    # The memory guard checks every second against a share a 400 MiB allocation passes.
    "TODOSTACK_MEMORY_LIMIT": "400MiB",
    "TODOSTACK_MEMORY_CHECK_SECONDS": "1",
}


@pytest.fixture
def guarded(tracing: None, tmp_path: Path) -> Iterator[RunningServer]:
    url = f"sqlite:///{tmp_path}/guards.db"
    subprocess.run(
        [sys.executable, "-m", "todostack", "migrate"],
        env={**os.environ, "TODOSTACK_DATABASE_URL": url},
        check=True,
        capture_output=True,
        timeout=120,
    )
    with run_server(url, tmp_path, workers=1, env=GUARDED) as server:
        yield server


def test_guards_script_shows_each_guard_as_it_acts(guarded: RunningServer, tmp_path: Path) -> None:
    worker = worker_of(guarded)
    with Tracer.run("guards", worker) as tracer, httpx.Client(base_url=guarded.url, timeout=60) as http:
        cut = http.get("/__test__/sleep", params={"seconds": 3})
        assert cut.status_code == 504, cut.text
        assert tracer.wait_for(lambda line: "cause=deadline_exceeded" in line, 30), tracer.text
        http.post("/__test__/burn", params={"seconds": 6}).raise_for_status()
        wait_until(lambda: any((tmp_path / "profiles").glob("report.*.json")), 30, "autoprof's report")
        assert tracer.wait_for(lambda line: "autoprof    metric=cpu" in line, 30), tracer.text
        held = http.post("/__test__/allocate", params={"mib": 400}).raise_for_status().json()
        assert held["pid"] == worker
        # Over its share even after collecting: the guard says "over", then drains the worker.
        assert tracer.wait_for(lambda line: "memory      step=over" in line, 30), tracer.text
        output = tracer.stop()
    found = maps(output)
    assert found["cancels"] == {("deadline_exceeded",): 1}, output
    assert found["reports"][("cpu",)] >= 1, output
    assert found["report_value"][("cpu",)] >= 80, output  # thousandths of the CPUs: over 0.08
    assert found["memory_steps"][("over",)] >= 1, output
    assert found["memory_rss_mib"][("over",)] >= 400, output
