"""Start the service (or the raw floor) as real processes, and read their workers' cost."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

__all__ = [
    "BENCH_QUOTA_TODOS",
    "Server",
    "WorkerUsage",
    "answered_counts",
    "cold_start_seconds",
    "free_port",
    "otlp_sink",
    "serve_baseline",
    "serve_todostack",
]

_TICKS = os.sysconf("SC_CLK_TCK")
_STATUS = re.compile(r'[{,]status="(\d+)"')
BENCH_SECRET = "bench-secret-" + "x" * 32
# Create scenarios add todos far past an account's default quota: the service and the floor both
# get this one, and both send it with every insert (the service's repository compares it with the
# owner's count in the same statement).
BENCH_QUOTA_TODOS = 100_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class WorkerUsage:
    pid: int
    cpu_seconds: float
    hwm_bytes: int  # VmHWM: the worker's peak resident memory
    rss_bytes: int


def _usage(pid: int) -> WorkerUsage:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    kib = {key: int(status[key].split()[0]) * 1024 for key in ("VmHWM", "VmRSS")}
    return WorkerUsage(pid, cpu, kib["VmHWM"], kib["VmRSS"])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def workers(self) -> list[WorkerUsage]:
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        # uvicorn's workers are spawned beside multiprocessing's resource tracker: not a worker.
        return [_usage(int(c)) for c in children if b"resource_tracker" not in _cmdline(int(c))]

    def answered(self) -> dict[str, int]:
        """Requests answered so far, per status, summed over routes and workers (from ``/metrics``);
        empty for a server without it (the raw floor)."""
        try:
            response = httpx.get(self.url + "/metrics", timeout=10)
        except httpx.HTTPError:
            return {}
        return answered_counts(response.text) if response.status_code == 200 else {}

    def cpu_profile(self, seconds: int, admin_token: str) -> bytes:
        """Every worker's CPU profile over ``seconds`` (gzipped pprof), from ``/debug/pprof``;
        the server must run with ``TODOSTACK_ADMIN_TOKEN=admin_token``."""
        answer = httpx.get(
            f"{self.url}/debug/pprof/profile",
            params={"seconds": seconds, "pid": "all"},
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=seconds + 60,
        )
        answer.raise_for_status()
        return answer.content


def answered_counts(exposition: str) -> dict[str, int]:
    """``todostack_http_requests_total`` summed per status from a Prometheus text exposition."""
    counts: dict[str, int] = {}
    for line in exposition.splitlines():
        if line.startswith("todostack_http_requests_total{") and (found := _STATUS.search(line)):
            status = found.group(1)
            counts[status] = counts.get(status, 0) + round(float(line.rsplit(" ", 1)[1]))
    return counts


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, path: str, timeout: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + path, timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"not ready after {timeout:g} s:\n{log.read_text()[-3000:]}")


@contextmanager
def _process(command: list[str], env: Mapping[str, str], log: Path, ready_path: str, port: int) -> Iterator[Server]:
    with log.open("ab") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log, ready_path)
        yield Server(url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _service_env(database_url: str, port: int, workers: int | None, extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        "TODOSTACK_ENV": "production",
        "TODOSTACK_SECRET_KEY": BENCH_SECRET,
        "TODOSTACK_DATABASE_URL": database_url,
        "TODOSTACK_PORT": str(port),
        "TODOSTACK_TODOBACKEND": "on",
        "TODOSTACK_SHUTDOWN_DELAY_SECONDS": "0",
        # The load generator counts answers from /metrics on the port it loads.
        "TODOSTACK_METRICS_PUBLIC": "on",
        "TODOSTACK_METRICS_PORT": "0",
        "TODOSTACK_QUOTA_LISTS": "1000000",
        "TODOSTACK_QUOTA_TODOS": str(BENCH_QUOTA_TODOS),
        **extra,
    }
    if workers is not None:
        env["TODOSTACK_WORKERS"] = str(workers)
    return env


@contextmanager
def serve_todostack(
    database_url: str, log: Path, *, workers: int | None = None, extra: Mapping[str, str] | None = None
) -> Iterator[Server]:
    port = free_port()
    env = _service_env(database_url, port, workers, extra or {})
    env.setdefault("TODOSTACK_AUTOPROF_DIR", str(log.parent / "profiles"))  # beside the logs, not in ./var
    with _process([sys.executable, "-m", "todostack", "serve"], env, log, "/readyz", port) as server:
        yield server


@contextmanager
def serve_baseline(
    database_url: str, log: Path, *, workers: int, pool_size: int, loop: str, baseline: Path
) -> Iterator[Server]:
    """``bench/baseline_raw.py`` under granian with the same worker count and event loop."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        loop,
        "--working-dir",
        str(baseline.parent),
        f"{baseline.stem}:app",
    ]
    env = {
        "BASELINE_DATABASE_URL": database_url,
        "BASELINE_POOL_SIZE": str(pool_size),
        "BASELINE_SECRET_KEY": BENCH_SECRET,
        "BASELINE_QUOTA_TODOS": str(BENCH_QUOTA_TODOS),
    }
    with _process(command, env, log, "/healthz", port) as server:
        yield server


def cold_start_seconds(database_url: str, log: Path, *, workers: int | None = None) -> float:
    """From spawning ``todostack serve`` to its first 200 on ``/readyz``."""
    port = free_port()
    env = {**os.environ, **_service_env(database_url, port, workers, {})}
    with log.open("ab") as out:
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "todostack", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process, log, "/readyz")
        return time.monotonic() - started
    finally:
        process.terminate()
        process.wait(timeout=60)


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def otlp_sink() -> Iterator[str]:
    """An OTLP/HTTP endpoint that accepts and drops everything: the exporter's cost, not Jaeger's."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
