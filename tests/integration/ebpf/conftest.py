"""A real server (one worker, so every request lands on the traced process) and what tracing needs.

Tracing needs root and bpftrace (``make bpftrace``) and the probe library (``make ebpf-probes``):
without them these tests skip with a loud reason, and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.pg import in_ci
from tests.server import RunningServer, run_server
from todostack.ebpf import probes, trace


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "not root (bpftrace loads BPF programs)"
    if shutil.which("bpftrace") is None:
        return "bpftrace is not installed (make bpftrace)"
    probes.load()  # as `todostack serve` does before forking its workers
    if probes.library_path is None:
        return f"the probe library is not there ({probes.status()}; make ebpf-probes)"
    try:
        trace.preflight()
    except trace.TraceError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="session")
def tracing() -> None:
    missing = _missing()
    if missing is None:
        return
    if in_ci():
        pytest.fail(f"eBPF tests cannot run: {missing}; with CI=true they must run", pytrace=False)
    pytest.skip(f"SKIPPING the eBPF tests: {missing}")


def worker_of(server: RunningServer, timeout: float = 30) -> int:
    """The one worker process granian spawned (the server's only child)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = [
            int(pid)
            for task in Path(f"/proc/{server.process.pid}/task").iterdir()
            for pid in (task / "children").read_text().split()
        ]
        if len(children) == 1:
            return children[0]
        time.sleep(0.1)
    raise AssertionError(f"no single worker under {server.process.pid} after {timeout} s")


@dataclass(frozen=True)
class Served:
    server: RunningServer
    worker: int
    token: str

    def client(self) -> httpx.Client:
        return self.server.client(self.token)


def _signed_up(server: RunningServer) -> str:
    email = f"ebpf-{uuid.uuid4().hex[:8]}@example.com"
    with server.client() as anon:
        anon.post("/api/v1/auth/register", json={"email": email, "password": "pass-word-12"}).raise_for_status()
        answer = anon.post("/api/v1/auth/token", json={"email": email, "password": "pass-word-12"})
        answer.raise_for_status()
        token: str = answer.json()["access_token"]
    return token


@pytest.fixture(scope="module")
def sqlite_served(tracing: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("ebpf")
    url = f"sqlite:///{tmp}/ebpf.db"
    subprocess.run(
        [sys.executable, "-m", "todostack", "migrate"],
        env={**os.environ, "TODOSTACK_DATABASE_URL": url},
        check=True,
        capture_output=True,
        timeout=120,
    )
    with run_server(url, tmp, workers=1) as server:
        yield Served(server, worker_of(server), _signed_up(server))
