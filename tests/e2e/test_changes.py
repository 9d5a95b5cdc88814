"""The change feed against a real server, SQLite and PostgreSQL: pages, streams, authorization,
resuming with Last-Event-ID, and (on servers of their own) limits, deadlines, retention and SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import Account, sign_up
from tests.e2e.sse import EventStream
from tests.server import RunningServer, migrated_schema, run_postgres_server, run_server

pytestmark = pytest.mark.e2e

STREAM = "/api/v1/changes/stream"


def _stream(account: Account, **headers: str) -> EventStream:
    stream = EventStream(account.server.client(account.token), STREAM, headers)
    assert stream.status == 200
    stream.next(kind="ready")
    return stream


def _change(event_data: str) -> tuple[str, str, str]:
    body = json.loads(event_data)
    return body["entity"], body["entity_id"], body["kind"]


def test_changes_pages_show_only_your_own_writes(alice: Account, bob: Account) -> None:
    start = alice.http.get("/api/v1/changes", params={"since": 0, "limit": 500}).json()["next"]
    todos = [alice.todo(f"page {i}") for i in range(3)]
    bob.todo("not alice's")
    r = alice.http.get("/api/v1/changes", params={"since": start, "limit": 2})
    assert r.status_code == 200
    page = r.json()
    assert [c["entity_id"] for c in page["items"]] == [todos[0]["id"], todos[1]["id"]]
    assert page["more"] is True
    assert page["resync"] is False
    assert r.headers["Link"] == f'</api/v1/changes?since={page["next"]}&limit=2>; rel="next"'
    rest = alice.http.get("/api/v1/changes", params={"since": page["next"]}).json()
    assert [c["entity_id"] for c in rest["items"]] == [todos[2]["id"]]
    assert rest["more"] is False
    assert {c["kind"] for c in page["items"] + rest["items"]} == {"created"}
    assert [c["id"] for c in page["items"] + rest["items"]] == sorted(c["id"] for c in page["items"] + rest["items"])


@pytest.mark.parametrize("path", ["/api/v1/changes", STREAM], ids=["page", "stream"])
def test_the_feed_needs_authentication(anon: httpx.Client, path: str) -> None:
    r = anon.get(path)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    bad = anon.get(path, headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401


@pytest.mark.parametrize(
    ("params", "headers"),
    [({"since": "-1"}, {}), ({"limit": "0"}, {}), ({"since": "x"}, {}), ({}, {"Last-Event-ID": "abc"})],
    ids=["negative-since", "zero-limit", "text-since", "bad-last-event-id"],
)
def test_bad_cursors_are_clear_problems(alice: Account, params: dict[str, str], headers: dict[str, str]) -> None:
    path = STREAM if headers else "/api/v1/changes"
    r = alice.http.get(path, params=params, headers=headers)
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_a_stream_sees_adds_toggles_deletes_and_reorders_within_a_second(alice: Account, bob: Account) -> None:
    mine, theirs = _stream(alice), _stream(bob)
    try:
        first = alice.todo("first")
        second = alice.todo("second")
        assert _change(mine.next(1.0).data) == ("todo", str(first["id"]), "created")
        assert _change(mine.next(1.0).data) == ("todo", str(second["id"]), "created")
        assert alice.http.patch(f"/api/v1/todos/{first['id']}", json={"completed": True}).status_code == 200
        assert _change(mine.next(1.0).data) == ("todo", str(first["id"]), "updated")
        reorder = alice.http.post(
            f"/api/v1/lists/{first['list_id']}/reorder", json={"todo_ids": [second["id"], first["id"]]}
        )
        assert reorder.status_code == 200, reorder.text
        moved = {_change(mine.next(1.0).data), _change(mine.next(1.0).data)}
        assert moved == {("todo", str(first["id"]), "updated"), ("todo", str(second["id"]), "updated")}
        assert alice.http.delete(f"/api/v1/todos/{second['id']}").status_code == 204
        assert _change(mine.next(1.0).data) == ("todo", str(second["id"]), "deleted")
        assert theirs.drain(0.5) == []  # another user sees none of it
    finally:
        mine.close()
        theirs.close()


def test_reconnecting_with_last_event_id_misses_nothing(alice: Account) -> None:
    stream = _stream(alice)
    alice.todo("before the drop")
    seen = stream.next(2.0)
    stream.close()
    missed = [alice.todo(f"while away {i}") for i in range(5)]
    again = _stream(alice, **{"Last-Event-ID": str(seen.id)})
    try:
        got = [again.next(2.0) for _ in missed]
        assert [json.loads(e.data)["entity_id"] for e in got] == [t["id"] for t in missed]
        assert [int(str(e.id)) for e in got] == sorted(int(str(e.id)) for e in got)
        assert int(str(got[0].id)) > int(str(seen.id))
        assert again.drain(0.3) == []  # and nothing twice
    finally:
        again.close()


# -- servers of their own -----------------------------------------------------------------------


@pytest.fixture
def tight_server(tmp_path: Path) -> Iterator[RunningServer]:
    """Two requests in flight, four streams, half a second per read, a fast heartbeat."""
    env = {
        "TODOSTACK_MAX_INFLIGHT": "2",
        "TODOSTACK_FEED_MAX_STREAMS": "4",
        "TODOSTACK_READ_TIMEOUT_SECONDS": "0.5",
        "TODOSTACK_FEED_HEARTBEAT_SECONDS": "0.2",
        "TODOSTACK_FEED_RETENTION_SECONDS": "1",
    }
    with run_server(f"sqlite:///{tmp_path}/tight.db", tmp_path, env=env) as running:
        yield running


@pytest.fixture
def tight_alice(tight_server: RunningServer) -> Iterator[Account]:
    account = sign_up(tight_server)
    yield account
    account.http.close()


def test_streams_outlive_the_deadline_and_have_their_own_limit(tight_alice: Account) -> None:
    alice = tight_alice
    streams = [_stream(alice) for _ in range(4)]
    try:
        refused = alice.http.get(STREAM)
        assert refused.status_code == 503
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "Retry-After" in refused.headers
        # Four open streams take none of the two in-flight places of ordinary requests.
        assert alice.http.get("/api/v1/lists").status_code == 200
        assert alice.http.get("/api/v1/changes").status_code == 200
        time.sleep(1.5)  # three read budgets
        todo = alice.todo("still live")
        for stream in streams:
            assert not stream.ended.is_set()
            assert json.loads(stream.next(2.0).data)["entity_id"] == todo["id"]
            assert "heartbeat" in stream.comments
    finally:
        for stream in streams:
            stream.close()


def test_a_client_behind_the_retention_gets_a_resync(tight_alice: Account) -> None:
    alice = tight_alice
    alice.todo("soon pruned")
    deadline = time.monotonic() + 30
    while not (page := alice.http.get("/api/v1/changes", params={"since": 0}).json())["resync"]:
        assert time.monotonic() < deadline, "nothing was pruned"
        time.sleep(0.2)
    assert page["items"] == []
    assert page["next"] > 0
    stream = EventStream(alice.server.client(alice.token), f"{STREAM}?since=0")
    try:
        assert stream.next(kind="ready")
        resync = stream.next(5.0, kind="resync")
        assert int(str(resync.id)) >= page["next"]
        fresh = alice.todo("after the resync")
        assert json.loads(stream.next(2.0).data)["entity_id"] == fresh["id"]
    finally:
        stream.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigterm_ends_open_streams_with_a_retry_hint_within_the_grace_period(tmp_path: Path, backend: str) -> None:
    delay, grace = 0.5, 20.0
    env = {
        "TODOSTACK_SHUTDOWN_DELAY_SECONDS": str(delay),
        "TODOSTACK_SHUTDOWN_GRACE_SECONDS": str(grace),
        "TODOSTACK_FEED_RETRY_MS": "1500",
    }
    runner = (
        run_server(f"sqlite:///{tmp_path}/sigterm.db", tmp_path, workers=2, env=env)
        if backend == "sqlite"
        else run_postgres_server(tmp_path, workers=2, env=env)
    )
    with runner as server:
        alice = sign_up(server)
        streams = [_stream(alice) for _ in range(20)]
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=delay + grace + 30)
        elapsed = time.monotonic() - started
        assert code == 0
        # Well inside the grace period: the streams did not hold the shutdown until it ran out.
        assert elapsed < delay + grace / 2, f"exited after {elapsed:.1f} s"
        for stream in streams:
            assert stream.ended.wait(5)
            assert stream.retries[-1] == 1500  # the last thing each stream said: reconnect in 1.5 s
            assert "the server is restarting; reconnect" in stream.comments
            stream.close()
        alice.http.close()


def test_writes_do_not_notify_and_other_workers_streams_still_see_them_at_once(tmp_path: Path) -> None:
    """PostgreSQL commits notifying transactions one at a time (migration 0031): a write must not
    NOTIFY. The writer's worker numbers its change, the numbering notifies once, and a stream held
    by either worker sees every change within a second."""

    async def scenario(url: str, account: Account) -> tuple[list[str], list[str]]:
        payloads: list[str] = []
        conn = await asyncpg.connect(url)
        try:
            await conn.add_listener("todostack_changes", lambda *note: payloads.append(str(note[3])))
            ids = [str((await asyncio.to_thread(account.todo, f"todo {n}"))["id"]) for n in range(12)]
            await asyncio.sleep(0.3)  # a notification in flight arrives
        finally:
            await conn.close()
        return ids, payloads

    with migrated_schema() as url, run_server(url, tmp_path, workers=2) as server:
        alice = sign_up(server)
        # Two streams on fresh connections: with two workers, most likely one on each.
        streams = [_stream(alice), _stream(alice)]
        try:
            ids, payloads = asyncio.run(scenario(url, alice))
            for stream in streams:
                seen = {_change(stream.next(1.0).data)[1] for _ in ids}
                assert seen == set(ids)
        finally:
            for stream in streams:
                stream.close()
            alice.http.close()
    assert "written" not in payloads, payloads
    assert "numbered" in payloads
