"""Seed users, todos (with tags and due dates) and the Todo-Backend list through the API."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from todostack.bench.wrk import Workload

__all__ = ["seed", "seed_patch_pool"]

_TAGS = ("home", "work", "errand", "later", "urgent")
_PRIORITIES = ("none", "low", "medium", "high")
_SEED_CONCURRENCY = 16


class _Progress:
    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0

    def step(self, n: int = 1) -> None:
        self.done += n
        if self.done == self.total or self.done % max(1, self.total // 50) == 0:
            width = 30
            filled = width * self.done // self.total
            bar = "#" * filled + "." * (width - filled)
            end = "\n" if self.done == self.total else ""
            print(f"\r  {self.label:<22} [{bar}] {self.done}/{self.total}", end=end, file=sys.stderr, flush=True)


async def _account(http: httpx.AsyncClient, n: int) -> tuple[str, str]:
    email = f"bench-{n}-{uuid.uuid4().hex[:8]}@example.com"
    password = "bench-password-123"
    (await http.post("/api/v1/auth/register", json={"email": email, "password": password})).raise_for_status()
    token = await http.post("/api/v1/auth/token", json={"email": email, "password": password})
    token.raise_for_status()
    access: str = token.json()["access_token"]
    lists = await http.get("/api/v1/lists", headers={"Authorization": f"Bearer {access}"})
    return access, str(lists.json()["items"][0]["id"])


async def _create(http: httpx.AsyncClient, token: str, body: dict[str, object]) -> str:
    for _ in range(20):
        r = await http.post("/api/v1/todos", json=body, headers={"Authorization": f"Bearer {token}"})
        if r.status_code != 503:
            break
        await asyncio.sleep(float(r.headers.get("retry-after", "1")))  # shed: as asked, retry later
    r.raise_for_status()
    return str(r.json()["id"])


def _todo(i: int, list_id: str) -> dict[str, object]:
    due = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(hours=7 * i)
    return {
        "title": f"seeded todo {i}",
        "notes": "seeded for the benchmark",
        "list_id": list_id,
        "tags": [_TAGS[i % len(_TAGS)], _TAGS[(i * 7) % len(_TAGS)]] if i % 3 else [],
        "priority": _PRIORITIES[i % len(_PRIORITIES)],
        "due": due.isoformat().replace("+00:00", "Z") if i % 2 else None,
    }


async def seed(url: str, *, users: int, todos_per_user: int, sample_ids: int = 200) -> Workload:
    """``users`` accounts with ``todos_per_user`` todos each; 50 todos in the Todo-Backend list."""
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        accounts = await asyncio.gather(*(_account(http, n) for n in range(users)))
        progress = _Progress("todos", users * todos_per_user)
        gate = asyncio.Semaphore(_SEED_CONCURRENCY)

        async def one(token: str, list_id: str, i: int) -> str:
            async with gate:
                todo_id = await _create(http, token, _todo(i, list_id))
            progress.step()
            return todo_id

        workload_users = []
        for token, list_id in accounts:
            ids = await asyncio.gather(*(one(token, list_id, i) for i in range(todos_per_user)))
            workload_users.append((token, list_id, ids[:sample_ids]))
        await http.delete("/todobackend/")
        for i in range(50):
            (await http.post("/todobackend/", json={"title": f"demo {i}", "order": i})).raise_for_status()
    return Workload(users=workload_users, patch_pool=[])


async def seed_patch_pool(url: str, workload: Workload, size: int) -> Workload:
    """Fresh todos at version 1 for the PATCH scenarios (a run moves their versions on)."""
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=32)) as http:
        gate = asyncio.Semaphore(_SEED_CONCURRENCY)

        async def one(i: int) -> tuple[str, str]:
            token, list_id, _ = workload.users[i % len(workload.users)]
            async with gate:
                return await _create(http, token, {"title": f"patch target {i}", "list_id": list_id}), token

        pool = await asyncio.gather(*(one(i) for i in range(size)))
    return Workload(users=workload.users, patch_pool=list(pool))
