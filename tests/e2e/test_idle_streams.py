"""1,000 idle change streams on one worker: memory stays bounded, every stream still hears its
owner's writes, and ordinary requests are served beside them (figure: bench/idle_streams.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import sign_up
from tests.server import run_server
from todostack.bench.streams import open_streams, private_kib

pytestmark = pytest.mark.e2e

STREAMS = 1000
USERS = 20
# Measured: about 40 KiB per stream (docs/benchmarks.md); the bound leaves room for a busy
# machine's allocator, not for a leak per stream of the size of a buffer.
BOUND_KIB = 100 * 1024


def _worker(pid: int) -> int:
    (child,) = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(child)


def test_a_thousand_idle_streams_hold_with_bounded_memory(tmp_path: Path) -> None:
    env = {"TODOSTACK_FEED_MAX_STREAMS": str(STREAMS + 10), "TODOSTACK_MAX_INFLIGHT": "8"}
    with run_server(f"sqlite:///{tmp_path}/idle.db", tmp_path, workers=1, env=env) as server:
        worker = _worker(server.process.pid)
        accounts = [sign_up(server) for _ in range(USERS)]
        parts = urlsplit(server.url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80

        async def scenario() -> tuple[int, int]:
            before = private_kib(worker)
            streams = await open_streams(host, port, [a.token for a in accounts], STREAMS)
            try:
                after = private_kib(worker)
                # Served beside them: they take none of the 8 in-flight places.
                async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                    auth = {"Authorization": f"Bearer {accounts[0].token}"}
                    answer = await http.get("/api/v1/lists", headers=auth)
                    assert answer.status_code == 200
                    waits = [s.wait_for(b"event: change", 30) for s in streams[:: len(accounts)]]
                    created = await http.post(
                        "/api/v1/todos",
                        json={"title": "to all"},
                        headers={"Authorization": f"Bearer {accounts[0].token}"},
                    )
                    assert created.status_code == 201
                    await asyncio.gather(*waits)  # each of its owner's 50 streams heard it
                return before, after
            finally:
                for stream in streams:
                    stream.close()

        before, after = asyncio.run(scenario())
        for account in accounts:
            account.http.close()
        assert after - before < BOUND_KIB, f"{STREAMS} streams took {(after - before) // 1024} MiB"
