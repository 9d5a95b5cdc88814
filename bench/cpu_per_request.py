"""CPU time the service spends on one request, in-process: the HTTP path and the use case.

The app runs in this process on the in-memory storage and is called as plain ASGI (no server, no
client, no database driver), so what is left is the framework, our middleware and the use case.
Each scenario is warmed up, then timed ``--rounds`` times over ``--requests`` requests on this
process's CPU clock; the lowest rounds are the least disturbed. Compare two versions of the code
by running this alternately with ``PYTHONPATH`` pointing at each one's ``src``:

    git archive <rev> src | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before/src .venv/bin/python bench/cpu_per_request.py --label before
    .venv/bin/python bench/cpu_per_request.py --label after
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from allocations import call

from todostack.bootstrap import create_app
from todostack.observability.logs import configure_logging
from todostack.runtime import Settings


async def measure(requests: int, rounds: int) -> dict[str, list[float]]:
    env = {
        "TODOSTACK_DATABASE_URL": "memory://",
        "TODOSTACK_ARGON2_TIME_COST": "1",
        "TODOSTACK_ARGON2_MEMORY_KIB": "1024",
        "TODOSTACK_AUTOPROF_ENABLED": "off",
        "TODOSTACK_GC_THRESHOLD": "7000",
        # Every round creates thousands of todos in one account: past the default quota they would be 403s.
        "TODOSTACK_QUOTA_TODOS": "100000000",
    }
    app = create_app(Settings.from_env(env))
    results: dict[str, list[float]] = {}
    async with app.lifespan():
        asgi = app
        creds = json.dumps({"email": "cpu@example.com", "password": "correct horse battery"}).encode()
        await call(asgi, "POST", "/api/v1/auth/register", None, creds)
        _, raw = await call(asgi, "POST", "/api/v1/auth/token", None, creds)
        token = json.loads(raw)["access_token"]
        _, raw = await call(asgi, "POST", "/api/v1/todos", token, b'{"title":"measure me"}')
        todo_id = json.loads(raw)["id"]
        scenarios = {
            "get-one": ("GET", f"/api/v1/todos/{todo_id}", b""),
            "list": ("GET", "/api/v1/todos", b""),
            "create": ("POST", "/api/v1/todos", b'{"title":"another"}'),
        }
        for name, (method, path, body) in scenarios.items():
            for _ in range(requests // 2):
                await call(asgi, method, path, token, body)
            timings = []
            for _ in range(rounds):
                started = time.process_time()
                for _ in range(requests):
                    status, _ = await call(asgi, method, path, token, body)
                assert status < 300, (name, status)
                timings.append((time.process_time() - started) / requests * 1e6)
            results[name] = sorted(timings)
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--label", default="now")
    args = parser.parse_args(argv)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the access lines, as in production, to /dev/null
    configure_logging("info")
    results = asyncio.run(measure(args.requests, args.rounds))
    for name, timings in results.items():
        shown = " / ".join(f"{t:.1f}" for t in timings[:3])
        print(f"{args.label:<10} {name:<8} µs of CPU per request, lowest rounds: {shown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
