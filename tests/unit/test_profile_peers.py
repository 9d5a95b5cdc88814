"""The worker's profile socket (``profiling/peers.py``): it answers a sibling, and it stops without
waiting for a poll (its thread sleeps in ``select`` with no timeout until a connection comes)."""

from __future__ import annotations

import selectors
import socketserver
from pathlib import Path
from typing import Any

import pytest

from todostack.profiling import peers
from todostack.profiling.pprof import decode
from todostack.profiling.profile import StackProfile


class _TasksOnly:
    """A profiler that has one tasks profile to give."""

    def tasks(self) -> StackProfile:
        profile = StackProfile(sample_types=(("tasks", "count"),), period_type=("tasks", "count"), period=1)
        profile.add((), [3])
        return profile


@pytest.fixture
def select_timeouts(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """Every timeout the socket server's selector was asked to wait with."""
    seen: list[float | None] = []
    base: Any = socketserver._ServerSelector  # type: ignore[attr-defined]

    class Recording(base):  # type: ignore[misc]
        def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            seen.append(timeout)
            return super().select(timeout)  # type: ignore[no-any-return]

    monkeypatch.setattr(socketserver, "_ServerSelector", Recording)
    return seen


def test_a_sibling_gets_its_profile_and_stop_ends_the_thread_without_a_poll(
    tmp_path: Path, select_timeouts: list[float | None]
) -> None:
    server = peers.PeerServer(tmp_path, _TasksOnly())  # type: ignore[arg-type]
    server.start()
    try:
        assert peers.peer_pids(tmp_path) == [int(server.path.stem)]
        answer = decode(peers.ask_peer(tmp_path, int(server.path.stem), "tasks", 0, timeout=10))
        assert list(answer.samples.values()) == [[3]]
        with pytest.raises(peers.PeerError, match="unknown profile kind"):
            peers.ask_peer(tmp_path, int(server.path.stem), "nonsense", 0, timeout=10)
    finally:
        server.stop()
    assert not server._thread.is_alive(), "stop returned with the socket's thread still running"
    assert not server.path.exists()
    # socketserver's serve_forever waits 0.5 s at a time, and its shutdown() waits out that poll
    # (on the worker's event loop): here every wait is without a timeout, woken by a connection.
    assert select_timeouts, "the server never waited for a connection"
    assert set(select_timeouts) == {None}


def test_stop_before_start_and_twice_is_harmless(tmp_path: Path) -> None:
    server = peers.PeerServer(tmp_path, _TasksOnly())  # type: ignore[arg-type]
    server.stop()
    server.stop()
    assert not server.path.exists()
