"""The runtime inside real child cgroups on this machine (cgroup v1, as root): CPU quota and memory limit.

The test creates its own groups under /sys/fs/cgroup/cpu, /sys/fs/cgroup/cpuacct (when mounted
apart, as here) and /sys/fs/cgroup/memory, starts the service inside them through a shell that
moves itself there before exec'ing, and removes them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.pg import in_ci
from tests.pprof_tool import pprof_top
from tests.server import FAST_HASHING, free_port, wait_ready

CPU_ROOT = Path("/sys/fs/cgroup/cpu")
# A container runtime puts a container in a cpuacct group of its own too; where cpuacct is mounted
# with cpu this is the same folder.
CPUACCT_ROOT = Path("/sys/fs/cgroup/cpuacct")
MEMORY_ROOT = Path("/sys/fs/cgroup/memory")
MIB = 1024 * 1024
LIMIT = 256 * MIB


@dataclass(frozen=True)
class Groups:
    cpu: Path
    cpuacct: Path
    memory: Path

    def command(self, *argv: str) -> list[str]:
        joins = " && ".join(f"echo $$ > {d}/cgroup.procs" for d in dict.fromkeys((self.cpu, self.cpuacct, self.memory)))
        enter = f'{joins} && exec "$@"'
        return ["sh", "-c", enter, "sh", *argv]

    def oom_kills(self) -> int:
        for line in (self.memory / "memory.oom_control").read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0


def _writable() -> str | None:
    if os.geteuid() != 0:
        return "not root"
    for root in (CPU_ROOT, MEMORY_ROOT):
        if not (root / "cgroup.procs").exists() or not os.access(root, os.W_OK):
            return f"{root} is not a writable cgroup v1 hierarchy"
    return None


@pytest.fixture
def groups() -> Iterator[Groups]:
    problem = _writable()
    if problem is not None:
        if in_ci():
            pytest.fail(f"real-cgroup tests must run in CI, but {problem}", pytrace=False)
        pytest.skip(f"SKIPPING real-cgroup tests: {problem}")
    name = f"todostack-test-{uuid.uuid4().hex[:8]}"
    cpuacct_root = CPUACCT_ROOT if (CPUACCT_ROOT / "cpuacct.usage").exists() else CPU_ROOT
    made = Groups(CPU_ROOT / name, cpuacct_root / name, MEMORY_ROOT / name)
    for group in dict.fromkeys((made.cpu, made.cpuacct, made.memory)):
        group.mkdir()
    try:
        (made.cpu / "cpu.cfs_period_us").write_text("100000")
        (made.cpu / "cpu.cfs_quota_us").write_text("50000")
        (made.memory / "memory.limit_in_bytes").write_text(str(LIMIT))
        yield made
    finally:
        for group in dict.fromkeys((made.cpu, made.cpuacct, made.memory)):
            for _ in range(50):
                try:
                    group.rmdir()
                    break
                except OSError:  # processes still leaving
                    time.sleep(0.1)


def test_runtime_reports_the_quota_and_the_limit(groups: Groups) -> None:
    done = subprocess.run(
        groups.command(sys.executable, "-m", "todostack", "runtime", "--json"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    seen = json.loads(done.stdout)
    assert seen["cgroup_version"] == 1
    assert seen["cpu_quota"] == 0.5
    assert seen["effective_cpus"] == 1
    assert seen["workers"] == 1
    assert seen["memory_limit_bytes"] == LIMIT
    assert seen["soft_limit_bytes_per_worker"] == int(LIMIT * 0.9)
    assert seen["db_pool_size"] >= 1


@dataclass(frozen=True)
class Served:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def serve_inside(groups: Groups, tmp_path: Path, **settings: str) -> Iterator[Served]:
    """``todostack serve`` started inside the test's groups (its workers sized by them)."""
    port = free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        **FAST_HASHING,
        "TODOSTACK_PORT": str(port),
        "TODOSTACK_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite",
        "TODOSTACK_TEST_ENDPOINTS": "on",
        "TODOSTACK_METRICS_PUBLIC": "on",
        **settings,
    }
    env.pop("TODOSTACK_WORKERS", None)
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        server = subprocess.Popen(
            groups.command(sys.executable, "-m", "todostack", "serve"), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_ready(url, server, log)
        yield Served(url, server, log)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_worker_past_its_share_is_replaced_before_any_oom_kill(groups: Groups, tmp_path: Path) -> None:
    with serve_inside(groups, tmp_path, TODOSTACK_MEMORY_CHECK_SECONDS="1") as served:
        url, server, log = served.url, served.process, served.log
        text = log.read_text()
        assert "with 1 worker(s)" in text
        assert "CPU quota 0.5 is below the minimum of 1" in text

        with httpx.Client(base_url=url, timeout=30) as http:
            first_pid = http.post("/__test__/allocate", params={"mib": 10}).json()["pid"]
            pids = {first_pid}
            # Leak 30 MiB at a time: past the worker's share (under 230 MiB) and towards the
            # 256 MiB limit of the whole group, which the kernel would enforce by killing.
            for _ in range(12):
                try:
                    pids.add(http.post("/__test__/allocate", params={"mib": 30}).json()["pid"])
                except _BETWEEN_WORKERS:
                    pids.add(_pid(http))
                time.sleep(0.4)
                if len(pids) > 1:
                    break
            deadline = time.monotonic() + 20
            while len(pids) == 1 and time.monotonic() < deadline:
                time.sleep(0.5)
                pids.add(_pid(http))
            assert len(pids) > 1, f"the worker was never replaced:\n{log.read_text()}"
            # The service kept answering throughout and still does.
            assert http.get("/readyz").status_code == 200
        assert groups.oom_kills() == 0, "the kernel OOM-killed a process in the group"
        assert server.poll() is None, "the server itself died"
        assert "draining this worker" in log.read_text()
        with httpx.Client(base_url=url, timeout=30) as http:
            time.sleep(2.5)  # a round of the samplers of the new worker
            metrics = http.get("/metrics").text
        # What the worker saw of its container, and what its guard did, reach /metrics.
        assert "todostack_cpu_quota_cpus 0.5" in metrics
        assert "todostack_effective_cpus 1.0" in metrics
        assert "todostack_cgroup_cpu_throttled_periods" in metrics
        assert 'todostack_memory_guard_steps_total{step="recycled"}' in metrics


def test_autoprof_measures_against_the_quota_and_profiles_the_burn(groups: Groups, tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    settings = {
        "TODOSTACK_AUTOPROF_DIR": str(profiles),
        "TODOSTACK_AUTOPROF_INTERVAL_SECONDS": "0.5",
        "TODOSTACK_AUTOPROF_WINDOW_CHECKS": "3",
        "TODOSTACK_AUTOPROF_CPU_SECONDS": "1",
        # Of the 0.5-CPU quota: a busy thread fills it, and still gets well over 0.3 of it when the
        # whole machine is busy too.
        "TODOSTACK_AUTOPROF_CPU_THRESHOLD": "0.3",
        "TODOSTACK_AUTOPROF_LAG_THRESHOLD_SECONDS": "0",
    }
    with serve_inside(groups, tmp_path, **settings) as served:
        with httpx.Client(base_url=served.url, timeout=30) as http:
            # Long enough that the report (a 1.5 s window, then a 1 s profile) falls inside it even
            # when the 0.5-CPU quota throttles the watcher too.
            http.post("/__test__/burn", params={"seconds": 8})
        deadline = time.monotonic() + 20
        while not list(profiles.glob("report.*.json")) and time.monotonic() < deadline:
            time.sleep(0.2)
        found = list(profiles.glob("report.*.json"))
        assert found, f"no report:\n{served.log.read_text()[-4000:]}"
        report = json.loads(found[0].read_text())
        assert report["metric"] == "cpu"
        assert report["scope"] == "cgroup"  # usage of the group against its quota, not of the machine
        # The group's own usage: a quota is never exceeded by more than a scheduling period's
        # slack. (The machine's usage over this quota, as read from another cpuacct group, would
        # be up to 4.0 here, and only this worker's share of it would decide who profiles.)
        assert 0.3 <= report["value"] <= 1.2
        assert report["top"][0]["function"] == "burn_cpu_for_autoprof_test"
        assert "CPU measured against the cgroup quota (0.5 CPUs)" in served.log.read_text()
        cpu = profiles / next(f for f in report["files"] if ".samples.cpu." in f)
        assert pprof_top(cpu)[0][1] == "burn_cpu_for_autoprof_test"


# What a client meets while one worker drains and the next starts.
_BETWEEN_WORKERS = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)


def _pid(http: httpx.Client) -> int:
    """The pid of the worker that answers; waits out the moment between two workers.

    With a single worker, the listening socket belongs to it: between the old worker's exit
    and the new one's start (well under a second) connections are refused, and a draining
    worker closes its idle keep-alive connections.
    """
    for _ in range(50):
        try:
            pid: int = http.post("/__test__/allocate", params={"mib": 1}).json()["pid"]
            return pid
        except _BETWEEN_WORKERS:
            time.sleep(0.1)
    raise AssertionError("no worker answered for 5 s after a replacement")
