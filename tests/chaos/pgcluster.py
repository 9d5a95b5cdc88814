"""A private, crashable PostgreSQL cluster: initdb as ``postgres`` in a temp dir, its own port and socket dir.

Never the machine's shared cluster on 5432: every fault here (immediate stop, kill -9 of the
postmaster, SIGSTOP) lands on a cluster this process made and removes.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from tests.pg import in_ci, run_sync
from tests.server import free_port

__all__ = ["PrivateCluster", "postgres_tools"]

_BIN_DIRS = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin", "/usr/local/bin")


def postgres_tools() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    for folder in _BIN_DIRS:
        if all((Path(folder) / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


@dataclass
class PrivateCluster:
    root: Path
    max_connections: int = 60
    port: int = field(default_factory=free_port)
    bin_dir: Path | None = None
    frozen: list[int] = field(default_factory=list)  # a SIGSTOPped postmaster and its backends

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sockets(self) -> Path:
        return self.root / "sock"

    def url(self, database: str = "postgres", port: int | None = None) -> str:
        return f"postgresql://postgres@127.0.0.1:{port or self.port}/{database}"

    def _as_postgres(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        assert self.bin_dir is not None
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        return done

    def init(self) -> None:
        self.bin_dir = self.bin_dir or postgres_tools()
        if self.bin_dir is None:
            raise RuntimeError("no initdb/pg_ctl/postgres on this machine (apt-get install postgresql)")
        self.root.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in (self.root, self.sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._as_postgres("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.sockets}'\n"
                f"max_connections = {self.max_connections}\nfsync = off\n"
                "full_page_writes = off\nshared_buffers = 32MB\nlog_min_messages = fatal\n"
            )

    def start(self, timeout: float = 30) -> None:
        self._as_postgres(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", str(int(timeout)), "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """``mode``: smart, fast or immediate (a crash: no checkpoint, recovery on the next start)."""
        self.resume()
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def kill_postmaster(self) -> None:
        """kill -9 of the postmaster: its backends notice and exit; the next start recovers."""
        pid = self.postmaster_pid()
        # Orphaned backends hold the shared memory: the next start refuses while any is alive.
        family = [pid, *self._children(pid)]
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while any(_alive(p) for p in family) and time.monotonic() < deadline:
            time.sleep(0.05)

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every backend: a hung database that still holds its sockets."""
        postmaster = self.postmaster_pid()
        self.frozen = [postmaster, *self._children(postmaster)]
        for pid in self.frozen:
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self.frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.frozen = []

    @staticmethod
    def _children(pid: int) -> list[int]:
        try:
            return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def running(self) -> bool:
        try:
            os.kill(self.postmaster_pid(), 0)
        except (OSError, ValueError):
            return False
        return True

    def execute(self, sql: str, database: str = "postgres") -> None:
        async def run() -> None:
            conn = await asyncpg.connect(self.url(database), timeout=10)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        run_sync(run())

    def fetchval(self, sql: str, *args: object, database: str = "postgres") -> object:
        async def run() -> object:
            conn = await asyncpg.connect(self.url(database), timeout=10)
            try:
                return await conn.fetchval(sql, *args)
            finally:
                await conn.close()

        return run_sync(run())

    def destroy(self) -> None:
        self.resume()
        if self.running():
            try:
                self.stop("immediate")
            except RuntimeError:
                os.kill(self.postmaster_pid(), signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def require_tools() -> Path | None:
    """Where PostgreSQL's server binaries are; None (skip) unless CI, where their absence fails."""
    found = postgres_tools()
    if found is None and in_ci():
        raise RuntimeError("CI=true: the chaos suite needs PostgreSQL's server binaries (initdb, pg_ctl)")
    return found
