"""A TCP fault proxy of our own (Toxiproxy's toxics, in asyncio): latency and jitter per chunk,
bandwidth, reset of every connection, and a black hole.

It runs its own event loop in a thread, so synchronous test code and load generators in other
threads can turn faults on and off while traffic flows::

    with FaultProxy("127.0.0.1", pg_port) as proxy:   # service -> proxy.port -> PostgreSQL
        proxy.set(latency=0.3, jitter=0.1)
        proxy.set(blackhole=True)   # nothing goes through either way; connections stay open
        proxy.reset_all()           # every connection gets a TCP RST now
        proxy.heal()

A black hole holds the bytes (it stops reading, so the sender's window fills as on a dead
link); healing delivers them, as a partition that heals before TCP gives up would.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from concurrent.futures import Future
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

__all__ = ["FaultProxy", "Toxics"]

CHUNK = 16 * 1024


@dataclass(frozen=True)
class Toxics:
    latency: float = 0.0  # seconds added to every chunk, each way
    jitter: float = 0.0  # +- uniformly on top of latency
    bandwidth: float | None = None  # bytes per second, each way
    blackhole: bool = False


class FaultProxy:
    def __init__(
        self, upstream_host: str, upstream_port: int, *, listen_host: str = "127.0.0.1", seed: int = 7
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listen_host = listen_host
        self.toxics = Toxics()
        self.port = 0
        self.accepted = 0
        self._random = random.Random(seed)  # noqa: S311 - jitter, not secrets
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]] = set()
        self._flowing: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- control, from any thread ---------------------------------------------------------------
    def start(self) -> int:
        self._thread.start()
        self.port = self._call(self._listen())
        return self.port

    def set(self, **changes: Any) -> None:
        """Change some toxics (``latency``, ``jitter``, ``bandwidth``, ``blackhole``); the rest stay."""
        self._call(self._set(replace(self.toxics, **changes)))

    def heal(self) -> None:
        self._call(self._set(Toxics()))

    def reset_all(self) -> int:
        """Send a TCP RST on every open connection, both sides; returns how many links were cut."""
        cut: int = self._call(self._reset_all())
        return cut

    @property
    def open_links(self) -> int:
        return len(self._links)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self._call(self._close(), timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def _call(self, coro: Any, timeout: float = 10) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    # -- inside the proxy's loop ----------------------------------------------------------------
    async def _listen(self) -> int:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._link, self.listen_host, 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _set(self, toxics: Toxics) -> None:
        self.toxics = toxics
        assert self._flowing is not None
        if toxics.blackhole:
            self._flowing.clear()
        else:
            self._flowing.set()

    async def _reset_all(self) -> int:
        links = list(self._links)
        for client, upstream in links:
            for writer in (client, upstream):
                if writer is not None:
                    _rst(writer)
        self._links.clear()
        return len(links)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._reset_all()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _link(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter | None] = (client_writer, None)
        self._links.add(pair)
        try:
            assert self._flowing is not None
            await self._flowing.wait()  # a black hole: the connect is accepted, nothing answers
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except (OSError, asyncio.CancelledError):
            self._links.discard(pair)
            _rst(client_writer)
            return
        self._links.discard(pair)
        pair = (client_writer, up_writer)
        self._links.add(pair)
        try:
            await asyncio.gather(self._pump(client_reader, up_writer), self._pump(up_reader, client_writer))
        finally:
            self._links.discard(pair)
            for writer in pair:
                if writer is not None:
                    writer.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        try:
            while True:
                await self._flowing.wait()  # held, not read, while the link is black-holed
                data = await reader.read(CHUNK)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                toxics = self.toxics
                delay = toxics.latency + (self._random.uniform(-toxics.jitter, toxics.jitter) if toxics.jitter else 0)
                if delay > 0:
                    await asyncio.sleep(delay)
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
                if toxics.bandwidth:
                    await asyncio.sleep(len(data) / toxics.bandwidth)
        except (OSError, asyncio.IncompleteReadError):
            _rst(writer)


def _rst(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST, not a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
