"""Many idle change streams from one process: plain asyncio sockets, a few KiB each.

Used by ``bench/idle_streams.py`` (the memory figure in docs/benchmarks.md) and its test.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["IdleStream", "open_streams", "private_kib", "rss_kib"]

_PATH = "/api/v1/changes/stream"


@dataclass
class IdleStream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    seen: bytearray = field(default_factory=bytearray)

    async def wait_for(self, marker: bytes, seconds: float) -> float:
        """Read until ``marker`` has arrived (after what was already seen); the seconds it took."""
        started = time.monotonic()
        async with asyncio.timeout(seconds):
            while marker not in self.seen:
                chunk = await self.reader.read(65536)
                if not chunk:
                    raise ConnectionError("the server ended the stream")
                self.seen += chunk
        at = self.seen.index(marker) + len(marker)
        del self.seen[:at]
        return time.monotonic() - started

    def close(self) -> None:
        self.writer.close()


async def _open_one(host: str, port: int, token: str, seconds: float) -> IdleStream:
    reader, writer = await asyncio.open_connection(host, port)
    request = (
        f"GET {_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    )
    writer.write(request.encode())
    stream = IdleStream(reader, writer)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), seconds)
    if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
        writer.close()
        raise ConnectionError(f"the stream was refused: {head.splitlines()[0].decode(errors='replace')}")
    await stream.wait_for(b"event: ready", seconds)
    return stream


async def open_streams(
    host: str, port: int, tokens: list[str], count: int, *, seconds: float = 60.0, at_once: int = 50
) -> list[IdleStream]:
    """``count`` streams, spread over ``tokens`` in turn, each read up to its ``ready`` event."""
    streams: list[IdleStream] = []
    for start in range(0, count, at_once):
        batch = [
            _open_one(host, port, tokens[i % len(tokens)], seconds) for i in range(start, min(count, start + at_once))
        ]
        streams.extend(await asyncio.gather(*batch))
    return streams


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise ValueError(f"no {key} for {pid}")


def rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmRSS")


def private_kib(pid: int) -> int:
    """Memory this process holds alone (anonymous and file pages not shared): smaps_rollup."""
    total = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1])
    return total
