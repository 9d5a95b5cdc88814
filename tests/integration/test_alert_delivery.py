"""The alert queue against real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from todostack.observability.alerts import Alert, AlertQueue


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 to the first ``failures`` posts, then 200."""

    failures = 0
    posts: list[dict[str, object]]

    def do_POST(self) -> None:
        self.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        status = 503 if len(self.posts) <= self.failures else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Flaky]]]:
    handler = type("Receiver", (_Flaky,), {"posts": [], "failures": 2})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/alerts", handler
    httpd.shutdown()
    httpd.server_close()


async def _until(condition: object, seconds: float) -> None:
    assert callable(condition)
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)


async def test_a_receiver_that_fails_twice_gets_the_alert_on_the_third_try(
    receiver: tuple[str, type[_Flaky]],
) -> None:
    url, handler = receiver
    queue = AlertQueue(url, attempts=4, backoff_seconds=0.01)
    queue.publish(Alert("errors_burst", "10 server errors within a minute"))
    task = asyncio.create_task(queue.deliver_forever())
    try:
        await _until(lambda: queue.stats.delivered, 5)
    finally:
        task.cancel()
    assert queue.stats.delivered == 1
    assert len(handler.posts) == 3
    assert "`errors_burst`" in str(handler.posts[-1]["text"])


async def test_an_unreachable_receiver_gives_up_after_the_last_attempt() -> None:
    queue = AlertQueue("http://127.0.0.1:9/hooks", attempts=3, backoff_seconds=0.01, timeout_seconds=1)
    queue.publish(Alert("errors_burst", "x"))
    task = asyncio.create_task(queue.deliver_forever())
    try:
        await _until(lambda: queue.stats.failed, 5)
    finally:
        task.cancel()
    assert (queue.stats.failed, queue.stats.delivered) == (1, 0)
