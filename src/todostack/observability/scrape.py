"""A listener of its own for Prometheus: ``GET /metrics`` and nothing else.

Kept off the public listener (OWASP API4/API9: series names, routes, pids and memory figures are
an inventory for an attacker, and a scrape costs CPU). Each worker binds the port with
SO_REUSEPORT, so any worker answers, with every worker's metrics (``Metrics.exposition``).
Requests are tiny and bounded: one request per connection, a head of at most 8 KiB read within
5 seconds, then the connection closes.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from todostack.observability.metrics import Metrics

__all__ = ["serve_metrics"]

log = logging.getLogger("todostack.metrics")

_HEAD_MAX = 8 * 1024
_READ_TIMEOUT_S = 5.0
_CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


def _answer(status: bytes, body: bytes, content_type: bytes, *, head_only: bool) -> bytes:
    head = (
        b"HTTP/1.1 "
        + status
        + b"\r\nContent-Type: "
        + content_type
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
    )
    return head if head_only else head + body


def respond(metrics: Metrics, request_line: bytes) -> bytes:
    """The whole answer to one request line (``GET /metrics HTTP/1.1``)."""
    parts = request_line.split()
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return _answer(b"400 Bad Request", b"bad request\n", b"text/plain", head_only=False)
    method, target = parts[0], parts[1].split(b"?", 1)[0]
    if target != b"/metrics":
        return _answer(b"404 Not Found", b"only /metrics here\n", b"text/plain", head_only=method == b"HEAD")
    if method not in (b"GET", b"HEAD"):
        return _answer(b"405 Method Not Allowed", b"GET or HEAD\n", b"text/plain", head_only=False)
    return _answer(b"200 OK", metrics.exposition(), _CONTENT_TYPE, head_only=method == b"HEAD")


async def _handle(metrics: Metrics, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT_S)
        writer.write(respond(metrics, head.split(b"\r\n", 1)[0]))
        await asyncio.wait_for(writer.drain(), _READ_TIMEOUT_S)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
        pass  # a client that sends too much, too slowly or nothing at all just loses its connection
    finally:
        writer.close()


@asynccontextmanager
async def serve_metrics(metrics: Metrics, host: str, port: int) -> AsyncIterator[asyncio.Server]:
    """Serve ``/metrics`` on ``host:port`` for as long as the block runs."""
    server = await asyncio.start_server(
        lambda r, w: _handle(metrics, r, w),
        host,
        port,
        limit=_HEAD_MAX,
        reuse_port=hasattr(socket, "SO_REUSEPORT"),
    )
    log.info("metrics on http://%s:%d/metrics", host, port)
    try:
        yield server
    finally:
        server.close()
