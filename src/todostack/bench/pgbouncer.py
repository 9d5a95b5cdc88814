"""Debian's PgBouncer in front of a PostgreSQL server, in transaction pooling, for a test or a run.

The configuration is the stock one (``/etc/pgbouncer/pgbouncer.ini`` as Debian ships it) with only
what a throwaway instance needs changed: its own port, files and no Unix socket, trust
authentication like the server behind it, and ``pool_mode = transaction``. In particular it keeps
``ignore_startup_parameters`` empty, so a client that sends ``statement_timeout`` at start-up is
refused exactly as it would be in production.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["PGBOUNCER", "pgbouncer", "through"]

PGBOUNCER = "/usr/sbin/pgbouncer"
START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def through(url: str, port: int) -> str:
    """``url`` with its host and port replaced by the pooler's (same user, database and query)."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


@contextmanager
def pgbouncer(server_url: str, *, pool_size: int = 20, max_client_conn: int = 1000) -> Iterator[int]:
    """Run PgBouncer for the server of ``server_url`` (any database on it); yields its port."""
    binary = shutil.which("pgbouncer") or PGBOUNCER
    if not Path(binary).exists():
        raise FileNotFoundError("Debian's pgbouncer is not installed: make pgbouncer")
    server = urlsplit(server_url)
    user = server.username or "postgres"
    port = _free_port()
    directory = Path(tempfile.mkdtemp(prefix="todostack-pgbouncer-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # PgBouncer refuses to run as root: it switches to the server's user
        run_as = ["-u", "postgres"]
        owner = pwd.getpwnam("postgres")
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    (directory / "userlist.txt").write_text(f'"{user}" ""\n')
    (directory / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={server.hostname or '127.0.0.1'} port={server.port or 5432}\n"
        "[pgbouncer]\n"
        f"logfile = {directory}/pgbouncer.log\n"
        f"pidfile = {directory}/pgbouncer.pid\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {directory}/userlist.txt\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {pool_size}\n"
        f"max_client_conn = {max_client_conn}\n"
    )
    for name in ("userlist.txt", "pgbouncer.ini"):
        (directory / name).chmod(0o644)
    process = subprocess.Popen(
        [binary, *run_as, str(directory / "pgbouncer.ini")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                err = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"pgbouncer exited with {process.returncode}: {err}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"pgbouncer did not listen on {port} within {START_TIMEOUT_S} s") from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(directory, ignore_errors=True)
