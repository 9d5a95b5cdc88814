"""When the database cannot serve: which failures mean that, what the client is told, and TCP
keepalive on the database's sockets so a dead peer is noticed without a statement waiting on it.

Down, refusing, restarting, out of connection slots, or a connection lost mid-way: each becomes
``context.Unavailable`` (503, ``Retry-After``, cause ``database_unavailable``), never a 500.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import asyncpg

from todostack.context import Unavailable

__all__ = ["is_unavailable", "keep_alive", "unavailable"]

_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (asyncpg.TooManyConnectionsError, "no connection slot is free"),
    (asyncpg.CannotConnectNowError, "it is starting up or shutting down"),
    (asyncpg.AdminShutdownError, "it is shutting down"),
    (asyncpg.CrashShutdownError, "it is recovering from a crash"),
    (asyncpg.PostgresConnectionError, "the connection to it was lost"),
    # A connection whose server end went away while it sat idle can fail its next statement
    # this way (asyncpg's protocol is left mid-state): the connection is dropped, not the request.
    (asyncpg.InternalClientError, "the connection to it was lost"),
    (TimeoutError, "it did not answer in time"),
    (OSError, "it cannot be reached"),
)

# Keepalive: a peer silent for 10 s is probed every 3 s and given up after 3 probes;
# TCP_USER_TIMEOUT: data unacknowledged for 15 s closes the connection.
KEEPALIVE_IDLE_S = 10
KEEPALIVE_INTERVAL_S = 3
KEEPALIVE_PROBES = 3
USER_TIMEOUT_MS = 15_000


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot serve now (as opposed to a bug or bad input)."""
    if isinstance(exc, asyncpg.InterfaceError):
        return "closed" in str(exc)  # "connection is closed"; other interface errors are misuse
    return any(isinstance(exc, kind) for kind, _ in _REASONS)


def unavailable(exc: BaseException) -> Unavailable:
    reason = next((why for kind, why in _REASONS if isinstance(exc, kind)), "the connection to it was lost")
    return Unavailable(f"the database is unavailable: {reason}; retry shortly")


def keep_alive(conn: Any) -> None:
    """Turn on TCP keepalive and TCP_USER_TIMEOUT on an asyncpg connection's socket (TCP only)."""
    transport = getattr(conn, "_transport", None)  # asyncpg keeps it there; no public accessor
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    with contextlib.suppress(OSError, AttributeError):  # options a platform lacks are skipped
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_PROBES)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, USER_TIMEOUT_MS)
