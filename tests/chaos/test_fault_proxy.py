"""The fault proxy's own tests: each toxic does what it says, against an echo server."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.chaos.proxy import FaultProxy


@pytest.fixture
def echo() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # a reset from the proxy ends it
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    server.close()


@pytest.fixture
def proxy(echo: int) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", echo) as running:
        yield running


def _connect(proxy: FaultProxy, timeout: float = 5) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout)


def _roundtrip(conn: socket.socket, payload: bytes) -> bytes:
    conn.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = conn.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def _talk_until_cut(conn: socket.socket) -> None:
    for _ in range(50):  # the RST may arrive after the first send
        conn.sendall(b"after")
        if not conn.recv(10):
            raise ConnectionResetError("closed")
        time.sleep(0.02)


def test_without_toxics_bytes_pass_both_ways(proxy: FaultProxy) -> None:
    with _connect(proxy) as conn:
        assert _roundtrip(conn, b"hello" * 1000) == b"hello" * 1000
    assert proxy.accepted == 1


def test_latency_delays_each_direction(proxy: FaultProxy) -> None:
    proxy.set(latency=0.2)
    with _connect(proxy) as conn:
        started = time.monotonic()
        assert _roundtrip(conn, b"ping") == b"ping"
        # A lower bound only: 0.2 s there and 0.2 s back, whatever else the machine is doing.
        assert time.monotonic() - started >= 0.4


def test_jitter_never_goes_below_latency_minus_jitter(proxy: FaultProxy) -> None:
    proxy.set(latency=0.1, jitter=0.05)
    with _connect(proxy) as conn:
        started = time.monotonic()
        for _ in range(3):
            assert _roundtrip(conn, b"x") == b"x"
        assert time.monotonic() - started >= 3 * 2 * 0.05


def test_bandwidth_caps_the_rate(proxy: FaultProxy) -> None:
    proxy.set(bandwidth=64 * 1024)
    payload = b"b" * (128 * 1024)
    with _connect(proxy, timeout=20) as conn:
        started = time.monotonic()
        assert _roundtrip(conn, payload) == payload
        # 128 KiB at 64 KiB/s: 8 chunks, a pause of 0.25 s after each but the last one counts.
        assert time.monotonic() - started >= 1.75


def test_reset_all_cuts_open_connections_with_a_reset(proxy: FaultProxy) -> None:
    with _connect(proxy) as conn:
        assert _roundtrip(conn, b"before") == b"before"
        assert proxy.reset_all() == 1
        with pytest.raises((ConnectionResetError, BrokenPipeError)):
            _talk_until_cut(conn)
    # New connections work again at once.
    with _connect(proxy) as again:
        assert _roundtrip(again, b"again") == b"again"


def test_black_hole_holds_traffic_until_healed(proxy: FaultProxy) -> None:
    with _connect(proxy) as conn:
        assert _roundtrip(conn, b"one") == b"one"
        proxy.set(blackhole=True)
        conn.settimeout(0.5)
        conn.sendall(b"two")
        with pytest.raises(TimeoutError):
            conn.recv(10)
        # A new connection is accepted, and nothing answers it either.
        with _connect(proxy) as second:
            second.settimeout(0.5)
            second.sendall(b"three")
            with pytest.raises(TimeoutError):
                second.recv(10)
            proxy.heal()
            second.settimeout(5)
            assert second.recv(10) == b"three"
        conn.settimeout(5)
        assert conn.recv(10) == b"two"
