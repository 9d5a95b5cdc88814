"""What authenticating one request costs in-process: the token check alone, before (main's
``ts1`` codec, one HMAC) and after (``ts2``: one HMAC, then the session looked up in this worker's
cache). Prints microseconds per check; no server, no database (the cache is warm, as it is for
every request but one per session per ``TODOSTACK_SESSION_CHECK_SECONDS``).

    .venv/bin/python bench/token_check.py [--main-src /work/main/src]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from todostack.adapters.memory import InMemoryDatabase
from todostack.adapters.tokens import HmacTokenCodec
from todostack.usecases import AuthService

N = 50_000
ROUNDS = 7


def _old_codec(main_src: Path) -> object:
    spec = importlib.util.spec_from_file_location("old_tokens", main_src / "todostack/adapters/tokens.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.HmacTokenCodec("k" * 32)


async def _new_checker() -> tuple[AuthService, str]:
    class NoHash:
        async def hash(self, password: str) -> str:
            return password

        async def verify(self, password_hash: str, password: str) -> bool:
            return password_hash == password

    ttl = timedelta(hours=1)
    auth = AuthService(
        InMemoryDatabase(),
        NoHash(),
        HmacTokenCodec("k" * 32, ttl),
        lambda: datetime.now(UTC),
        lambda: "u",
        ttl,
        session_check_seconds=3600.0,
    )
    await auth.register("a@example.com", "correct horse battery")
    token = (await auth.authenticate("a@example.com", "correct horse battery")).token
    await auth.principal_for_token(token)  # the one database look-up; the rest hit the cache
    return auth, token


async def _new_per_check(auth: AuthService, token: str) -> float:
    started = time.perf_counter()
    for _ in range(N):
        await auth.principal_for_token(token)
    return (time.perf_counter() - started) / N * 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--main-src", type=Path, default=Path("/work/main/src"))
    args = parser.parse_args()
    old = _old_codec(args.main_src)
    token = old.issue("0192f0e4-5d7c-7a2b-9c1d-3e4f5a6b7c8d", datetime.now(UTC) + timedelta(hours=1))  # type: ignore[attr-defined]
    loop = asyncio.new_event_loop()
    auth, new_token = loop.run_until_complete(_new_checker())
    befores, afters = [], []
    for _ in range(ROUNDS):  # alternating, the fastest of each kept: a busy machine only adds
        started = time.perf_counter()
        for _ in range(N):
            old.verify(token, datetime.now(UTC))  # type: ignore[attr-defined]
        befores.append((time.perf_counter() - started) / N * 1e6)
        afters.append(loop.run_until_complete(_new_per_check(auth, new_token)))
    loop.close()
    before, after = min(befores), min(afters)
    print(f"token check per request: before {before:.2f} µs, after {after:.2f} µs (+{after - before:.2f} µs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
