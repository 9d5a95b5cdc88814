"""The writer load and its ledger.

Each write has its own ``Idempotency-Key`` and is retried with that same key on a connection
error, a 503 or a 504 (honouring ``Retry-After``) until it is acknowledged or the load's drain
time is up. Every 201 goes into the ledger (key -> id); every answer is kept as an ``Attempt``
for the invariant checks.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

__all__ = ["Attempt", "WriterLoad", "sign_up"]

RETRY_STATUSES = frozenset({503, 504})


@dataclass(frozen=True, slots=True)
class Attempt:
    key: str
    started: float  # time.monotonic()
    finished: float
    status: int | None  # None: no answer (refused, reset, timed out)
    error: str | None = None  # the exception's name when there was no answer
    problem: bool = False  # application/problem+json
    cause: str | None = None
    retry_after: str | None = None
    outcome: str | None = None

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    def label(self) -> str:
        if self.status is None:
            return f"connection error ({self.error})"
        return f"{self.status} {self.cause}" if self.cause else str(self.status)


def sign_up(url: str, timeout: float = 30) -> str:
    email = f"chaos-{uuid.uuid4().hex[:12]}@chaos.example"
    body = {"email": email, "password": "chaos-password-1"}
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=10) as http:
        while True:
            try:
                r = http.post("/api/v1/auth/register", json=body)
                if r.status_code in (201, 409):
                    r = http.post("/api/v1/auth/token", json=body)
                    if r.status_code == 200:
                        return str(r.json()["access_token"])
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not sign up at {url}")
            time.sleep(0.2)


@dataclass
class WriterLoad:
    url: str
    token: str
    writers: int = 4
    client_timeout: float = 20.0  # well past the server's budget: a late answer is measured, not cut
    drain_seconds: float = 20.0  # after stop(): how long writes in progress keep retrying
    retry_statuses: frozenset[int] = RETRY_STATUSES
    acknowledged: dict[str, str] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    acked_at: list[float] = field(default_factory=list)
    _stop_at: float | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="writer-load", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60) -> None:
        """Start no new writes; let the writes in progress finish or give up (drain), then return."""
        self._stop_at = time.monotonic()
        assert self._thread is not None
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError("the writer load did not stop")

    def acks_since(self, since: float) -> int:
        return sum(1 for t in list(self.acked_at) if t >= since)

    def wait_acks(self, count: int, since: float, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.acks_since(since) >= count:
                return True
            time.sleep(0.05)
        return False

    def seen(self) -> Counter[str]:
        return Counter(a.label() for a in self.attempts if a.status != 201)

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.writers, max_keepalive_connections=self.writers)
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(
            base_url=self.url, timeout=self.client_timeout, limits=limits, headers=headers
        ) as http:
            await asyncio.gather(*(self._writer(http) for _ in range(self.writers)))

    async def _writer(self, http: httpx.AsyncClient) -> None:
        while self._stop_at is None:
            await self._write(http, f"chaos-{uuid.uuid4().hex}")

    async def _write(self, http: httpx.AsyncClient, key: str) -> None:
        while self._stop_at is None or time.monotonic() < self._stop_at + self.drain_seconds:
            attempt = await self._attempt(http, key)
            self.attempts.append(attempt)
            if attempt.status == 201:
                return
            if attempt.status is not None and attempt.status not in self.retry_statuses:
                return  # the invariant check reports it: nothing but 201, 503 and 504 is expected
            pause = 0.1
            if attempt.retry_after is not None:
                pause = min(2.0, float(attempt.retry_after))
            await asyncio.sleep(pause)

    async def _attempt(self, http: httpx.AsyncClient, key: str) -> Attempt:
        started = time.monotonic()
        try:
            r = await http.post("/api/v1/todos", json={"title": key}, headers={"Idempotency-Key": key})
        except httpx.HTTPError as exc:
            return Attempt(key, started, time.monotonic(), None, type(exc).__name__)
        finished = time.monotonic()
        if r.status_code == 201:
            self.acknowledged[key] = r.json()["id"]
            self.acked_at.append(finished)
            return Attempt(key, started, finished, 201)
        problem = r.headers.get("content-type", "").startswith("application/problem+json")
        body = r.json() if problem else {}
        return Attempt(
            key,
            started,
            finished,
            r.status_code,
            problem=problem,
            cause=body.get("cause"),
            retry_after=r.headers.get("retry-after"),
            outcome=body.get("outcome"),
        )
