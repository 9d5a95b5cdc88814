"""The system under test: ``todostack serve`` started through the real CLI, 2 workers, with
control over its processes (kill -9 a worker or the main process, SIGTERM, restart)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.server import FAST_HASHING, free_port

__all__ = ["Sut", "migrate", "todostack_cli"]


def todostack_cli() -> list[str]:
    """The console script next to this interpreter (``todostack``), as an operator runs it."""
    script = Path(sys.executable).parent / "todostack"
    return [str(script)] if script.exists() else [sys.executable, "-m", "todostack"]


def _server_environ() -> dict[str, str]:
    # The test session runs asyncio in debug mode (tests/conftest.py): the servers must not.
    return {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}


def migrate(database_url: str) -> None:
    done = subprocess.run(
        [*todostack_cli(), "migrate"],
        env={**_server_environ(), "TODOSTACK_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"todostack migrate failed ({done.returncode}): {done.stdout[-1500:]}{done.stderr[-1500:]}")


def _alive(pid: int) -> bool:
    """Running, and a todostack process (a pid seen earlier may have been reused since)."""
    try:
        running = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        return running and b"todostack" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return False


@dataclass
class Sut:
    database_url: str
    folder: Path
    workers: int = 2
    env: Mapping[str, str] = field(default_factory=dict)
    prefix: list[str] = field(default_factory=list)  # e.g. a cgroup or network namespace wrapper
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    seen_workers: set[int] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def start(self, *, wait: bool = True, timeout: float = 30) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {
            **_server_environ(),
            **FAST_HASHING,
            "TODOSTACK_DATABASE_URL": self.database_url,
            "TODOSTACK_HOST": self.host,
            "TODOSTACK_PORT": str(self.port),
            "TODOSTACK_WORKERS": str(self.workers),
            "TODOSTACK_AUTOPROF_DIR": str(self.folder / "profiles"),
            "TODOSTACK_LOG_LEVEL": "warning",
            **self.env,
        }
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*self.prefix, *todostack_cli(), "serve"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the test's signals never reach it, ours only
            )
        self.starts += 1
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 30) -> float:
        """Seconds until ``/readyz`` answers 200."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.tail()}")
            if self.ready() == 200:
                self.seen_workers.update(self.worker_pids())
                return time.monotonic() - started
            time.sleep(0.05)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.tail()}")

    def ready(self, timeout: float = 2.0) -> int | None:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=timeout).status_code
        except httpx.HTTPError:
            return None

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    @property
    def main_pid(self) -> int:
        """The server's main process: the one we started, or below a wrapper that forks (a
        wrapper that execs, such as ``ip netns exec`` or ``sh -c 'exec ...'``, keeps the pid)."""
        assert self.process is not None
        pid = self.process.pid
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if b"serve" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid
            except OSError:
                return pid
            children = self._children(pid)
            if children:
                pid = children[0]
            else:
                time.sleep(0.02)
        return pid

    @staticmethod
    def _children(pid: int) -> list[int]:
        try:
            return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def worker_pids(self) -> list[int]:
        return [pid for pid in self._children(self.main_pid) if _alive(pid)]

    def kill_worker(self, index: int = 0) -> int:
        pid = sorted(self.worker_pids())[index]
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_workers(self, count: int, timeout: float = 20, *, besides: set[int] | None = None) -> list[int]:
        """Wait for ``count`` live workers (none of ``besides``): the server respawned the dead."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [p for p in self.worker_pids() if p not in (besides or set())]
            if len(pids) >= count:
                self.seen_workers.update(pids)
                return pids
            time.sleep(0.02)
        raise AssertionError(f"fewer than {count} fresh workers after {timeout} s:\n{self.tail()}")

    def kill_main(self) -> None:
        """kill -9 of the server's main process; its workers stop themselves (pidfd watch)."""
        workers = self.worker_pids()
        os.kill(self.main_pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 40
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in workers:  # never leave a listener behind for the next server on this port
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)

    def kill_all(self) -> int:
        """kill -9 of the main process and every worker at once (no process left to drain)."""
        pids = [self.main_pid, *self.worker_pids()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        return len(pids)

    def terminate(self) -> None:
        os.kill(self.main_pid, signal.SIGTERM)

    def wait_exit(self, timeout: float = 30) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is None:
            return
        workers = set(self.worker_pids()) | self.seen_workers
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in workers:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
