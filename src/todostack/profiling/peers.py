"""The other workers of this server, for ``/debug/pprof/...?pid=<pid>|all``.

A request lands on whichever worker the server picks; to profile another one (or all), each
worker answers profile requests on a Unix socket of its own, ``<dir>/<pid>.sock``, in a thread
(so a worker whose event loop is blocked still answers). The directory is private to the server
(``todostack serve`` creates it, mode 0700). Protocol: one JSON line ``{"kind": "cpu"|"heap"|
"tasks", "seconds": N}``; the answer is one status byte (0 ok, 1 error) then the gzipped pprof
profile (or an error message) until the socket closes.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import threading
from pathlib import Path
from typing import Any

from todostack.profiling.pprof import encode
from todostack.profiling.profiler import Profiler

__all__ = ["PEER_DIR_ENV", "PeerError", "PeerServer", "ask_peer", "peer_pids"]

PEER_DIR_ENV = "TODOSTACK_PROFILE_PEERS_DIR"
log = logging.getLogger("todostack.autoprof")
_MAX_SECONDS = 600.0
_WAKE_TIMEOUT_SECONDS = 2.0


class PeerError(RuntimeError):
    """A worker did not answer a profile request."""


def _socket_path(directory: Path, pid: int) -> Path:
    return directory / f"{pid}.sock"


def peer_pids(directory: Path | None) -> list[int]:
    """Pids of the workers that have a socket in ``directory`` (this worker's included)."""
    if directory is None or not directory.is_dir():
        return [os.getpid()]
    pids = sorted(int(p.stem) for p in directory.glob("*.sock") if p.stem.isdigit())
    return pids or [os.getpid()]


def ask_peer(directory: Path, pid: int, kind: str, seconds: float, timeout: float) -> bytes:
    path = _socket_path(directory, pid)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(json.dumps({"kind": kind, "seconds": seconds}).encode() + b"\n")
            chunks = []
            while chunk := sock.recv(1 << 16):
                chunks.append(chunk)
    except FileNotFoundError:
        raise PeerError(f"no worker with pid {pid}") from None
    except ConnectionRefusedError:
        path.unlink(missing_ok=True)  # a worker that is gone (replaced) left its socket behind
        raise PeerError(f"worker {pid} has exited") from None
    except OSError as exc:
        raise PeerError(f"worker {pid} did not answer: {exc}") from None
    data = b"".join(chunks)
    if not data:
        raise PeerError(f"worker {pid} closed the connection without an answer")
    if data[0] != 0:
        raise PeerError(f"worker {pid}: {data[1:].decode(errors='replace')}")
    return data[1:]


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        try:
            request = json.loads(self.rfile.readline(4096))
            kind = request.get("kind")
            seconds = min(max(float(request.get("seconds", 0)), 0.0), _MAX_SECONDS)
            profiler = self.server.profiler
            if kind == "cpu":
                profile = profiler.cpu(seconds)
            elif kind == "heap":
                profile = profiler.heap(seconds)
            elif kind == "tasks":
                profile = profiler.tasks()
            else:
                raise ValueError(f"unknown profile kind {kind!r}")
            self.wfile.write(b"\x00" + encode(profile))
        except Exception as exc:  # noqa: BLE001 - the asking worker gets the reason instead
            log.warning("autoprof: a profile request from a sibling worker failed: %s", exc)
            self.wfile.write(b"\x01" + f"{type(exc).__name__}: {exc}".encode())


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    profiler: Profiler
    stopping = False

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return not self.stopping  # the stop's own wake-up connection is closed unanswered


class PeerServer:
    """The worker's profile socket, served by a thread that waits in ``select`` without a timeout
    until a connection comes (no polling). ``stop`` wakes it with a connection of its own, so it returns
    at once: ``socketserver``'s ``shutdown`` waits for a 0.5 s poll, which blocked the worker's
    event loop for up to that long at every stop."""

    def __init__(self, directory: Path, profiler: Profiler) -> None:
        self.path = _socket_path(directory, os.getpid())
        self.path.unlink(missing_ok=True)
        self._server = _Server(str(self.path), _Handler)
        self._server.profiler = profiler
        self._thread = threading.Thread(target=self._serve, name="todostack-profile-peer", daemon=True)

    def _serve(self) -> None:
        server = self._server
        while not server.stopping:
            server.handle_request()  # waits without a timeout (``server.timeout`` is None)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.stopping = True
        if self._thread.is_alive():
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as wake:
                    wake.settimeout(_WAKE_TIMEOUT_SECONDS)
                    wake.connect(str(self.path))
            except OSError as exc:  # its socket file was removed: the daemon thread ends with the process
                log.warning("autoprof: could not wake the profile socket's thread to stop it: %s", exc)
            else:
                self._thread.join(_WAKE_TIMEOUT_SECONDS)
        self._server.server_close()
        self.path.unlink(missing_ok=True)
