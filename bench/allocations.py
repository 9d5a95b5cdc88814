"""Memory allocated while the service answers one request, measured with tracemalloc in-process.

The app runs in this process on the in-memory storage (so the figures are the HTTP path's and
the use case's, not a database driver's), called as plain ASGI (no HTTP client in the way). For
each scenario, after a warm-up, each of N requests is measured alone:

- ``peak``: the most memory the request held above what was allocated before it
  (``tracemalloc`` peak, reset per request): the transient allocations of one request;
- ``blocks``: memory blocks allocated by the request and still alive when its last byte is sent
  (a tracemalloc snapshot at that moment, against one taken before): how many objects one
  request builds on the way;
- ``retained``: what is still allocated once the request is over (over N requests, divided by
  N, after a collection): a leak would show here.

    .venv/bin/python bench/allocations.py [--requests 300] [--frames 1] [--label after]

Writes JSON to bench/results/ and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tracemalloc
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from todostack.bootstrap import create_app
from todostack.observability.logs import configure_logging
from todostack.runtime import Settings

Message = MutableMapping[str, Any]


async def call(
    app: Callable[..., Awaitable[None]],
    method: str,
    path: str,
    token: str | None,
    body: bytes = b"",
    on_response: Callable[[], None] | None = None,
) -> tuple[int, bytes]:
    headers = [(b"host", b"bench"), (b"content-type", b"application/json")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent: list[Message] = []
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if on_response is not None and message["type"] == "http.response.body" and not message.get("more_body"):
            on_response()  # the request's own objects are all still alive here

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def _blocks(snapshot: tracemalloc.Snapshot) -> int:
    return sum(stat.count for stat in snapshot.statistics("filename"))


async def measure(requests: int, frames: int) -> dict[str, Any]:
    env = {
        "TODOSTACK_DATABASE_URL": "memory://",
        "TODOSTACK_ARGON2_TIME_COST": "1",
        "TODOSTACK_ARGON2_MEMORY_KIB": "1024",
        "TODOSTACK_AUTOPROF_ENABLED": "off",  # (a setting the code before autoprof ignores)
        **{k: v for k, v in os.environ.items() if k.startswith("OTEL_")},
    }
    app = create_app(Settings.from_env(env))
    results: dict[str, Any] = {}
    async with app.lifespan():
        asgi: Any = app
        creds = json.dumps({"email": "alloc@example.com", "password": "correct horse battery"}).encode()
        await call(asgi, "POST", "/api/v1/auth/register", None, creds)
        _, raw = await call(asgi, "POST", "/api/v1/auth/token", None, creds)
        token = json.loads(raw)["access_token"]
        _, raw = await call(asgi, "POST", "/api/v1/todos", token, b'{"title":"measure me"}')
        todo_id = json.loads(raw)["id"]
        scenarios: dict[str, tuple[str, str, bytes]] = {
            "get-one": ("GET", f"/api/v1/todos/{todo_id}", b""),
            "list": ("GET", "/api/v1/todos", b""),
            "create": ("POST", "/api/v1/todos", b'{"title":"another"}'),
        }
        for name, (method, path, body) in scenarios.items():
            for _ in range(50):  # warm-up: caches, lazily built routes and encoders
                await call(asgi, method, path, token, body)
            gc.collect()
            tracemalloc.start(frames)
            peaks: list[int] = []
            before_all = tracemalloc.get_traced_memory()[0]
            for _ in range(requests):
                current = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                status, _ = await call(asgi, method, path, token, body)
                assert status < 300, (name, status)
                peaks.append(tracemalloc.get_traced_memory()[1] - current)
            gc.collect()  # garbage in reference cycles is not retained, only not yet collected
            retained = (tracemalloc.get_traced_memory()[0] - before_all) / requests
            blocks: list[int] = []
            for _ in range(min(requests, 100)):
                baseline = _blocks(tracemalloc.take_snapshot())
                seen: list[int] = []

                def at_response(into: list[int] = seen) -> None:
                    into.append(_blocks(tracemalloc.take_snapshot()))

                await call(asgi, method, path, token, body, at_response)
                blocks.append(seen[0] - baseline)
            tracemalloc.stop()
            results[name] = {
                "blocks_at_response_median": int(statistics.median(blocks)),
                "peak_bytes_median": int(statistics.median(peaks)),
                "peak_bytes_p90": int(sorted(peaks)[int(0.9 * len(peaks))]),
                "retained_bytes_per_request": round(retained, 1),
            }
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--frames", type=int, default=1)
    parser.add_argument("--label", default="now")
    args = parser.parse_args(argv)
    # The service's own JSON access lines, as in production, written to /dev/null.
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    configure_logging("info")
    results = asyncio.run(measure(args.requests, args.frames))
    out = Path("bench/results") / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-allocations-{args.label}.json"
    env = {k: v for k, v in os.environ.items() if k.startswith("OTEL_")}
    out.write_text(
        json.dumps({"label": args.label, "env": env, "requests": args.requests, "results": results}, indent=2)
    )
    print(
        "| scenario | blocks alive at response | peak bytes (median / p90) | retained bytes/request |", file=sys.stderr
    )
    print("| --- | --- | --- | --- |", file=sys.stderr)
    for name, r in results.items():
        print(
            f"| {name} | {r['blocks_at_response_median']:,} | {r['peak_bytes_median']:,} / {r['peak_bytes_p90']:,} "
            f"| {r['retained_bytes_per_request']:,} |",
            file=sys.stderr,
        )
    print(f"results: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
