"""Run ``todostack serve`` as a real process on a free port, for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

# Cheap password hashing: e2e tests register many users.
FAST_HASHING = {"TODOSTACK_ARGON2_TIME_COST": "1", "TODOSTACK_ARGON2_MEMORY_KIB": "1024"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    database_url: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


# Start-up imports the app in the server and in every worker; on a 2-core machine that other work
# keeps busy this has taken over 30 s. A server that never becomes ready still fails, with its log.
READY_TIMEOUT = 90.0


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server not ready after {timeout}s:\n{log.read_text()}")


@contextmanager
def run_server(
    database_url: str, tmp: Path, *, workers: int = 1, env: Mapping[str, str] | None = None
) -> Iterator[RunningServer]:
    port = free_port()
    log = tmp / f"server-{port}.log"
    full_env = {
        **os.environ,
        **FAST_HASHING,
        "TODOSTACK_DATABASE_URL": database_url,
        "TODOSTACK_PORT": str(port),
        "TODOSTACK_WORKERS": str(workers),
        "TODOSTACK_AUTOPROF_DIR": str(tmp / "profiles"),
        # The tests read /metrics on the port they talk to (production keeps it off that port).
        "TODOSTACK_METRICS_PUBLIC": "on",
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "todostack", "serve"], env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log)
        yield RunningServer(url, process, log, database_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def migrated_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema with every migration applied (by the real CLI)."""
    from tests.pg import fresh_schema

    with fresh_schema() as url:
        subprocess.run(
            [sys.executable, "-m", "todostack", "migrate"],
            env={**os.environ, "TODOSTACK_DATABASE_URL": url},
            check=True,
            capture_output=True,
        )
        yield url


@contextmanager
def run_postgres_server(
    tmp: Path, *, workers: int = 1, env: Mapping[str, str] | None = None
) -> Iterator[RunningServer]:
    """``run_server`` on a fresh, migrated PostgreSQL schema."""
    with migrated_schema() as url, run_server(url, tmp, workers=workers, env=env) as running:
        yield running
