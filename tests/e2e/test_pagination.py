"""Walking 1,000 todos page by page while another client keeps inserting."""

from __future__ import annotations

import threading

import pytest

from tests.e2e.conftest import Account


@pytest.mark.parametrize("sort", ["order", "-due"])
def test_walk_is_stable_under_concurrent_inserts(alice: Account, sort: str) -> None:
    work = alice.http.post("/api/v1/lists", json={"name": f"big-{sort}"}).json()
    # Bulk-create through the API itself, a few at a time.
    created: set[str] = set()
    for i in range(1000):
        due = f"2030-01-{1 + i % 28:02d}T00:00:00Z" if i % 3 else None
        todo = alice.todo(f"t{i}", list_id=work["id"], due=due, priority=["none", "low", "medium", "high"][i % 4])
        created.add(str(todo["id"]))

    stop = threading.Event()
    inserted: list[str] = []

    def insert_meanwhile() -> None:
        with alice.server.client(alice.token) as http:
            n = 0
            while not stop.is_set() and n < 400:
                r = http.post(
                    "/api/v1/todos", json={"title": f"late{n}", "list_id": work["id"], "due": "2030-01-15T00:00:00Z"}
                )
                inserted.append(r.json()["id"])
                n += 1

    writer = threading.Thread(target=insert_meanwhile)
    writer.start()
    seen: list[str] = []
    try:
        cursor = None
        while True:
            params = {"list_id": work["id"], "limit": 50, "sort": sort}
            if cursor:
                params["cursor"] = cursor
            page = alice.http.get("/api/v1/todos", params=params).json()
            seen.extend(t["id"] for t in page["items"])
            cursor = page["next"]
            if cursor is None:
                break
    finally:
        stop.set()
        writer.join()
    assert len(inserted) > 0
    assert len(seen) == len(set(seen)), "a todo was served twice"
    assert created <= set(seen), f"{len(created - set(seen))} todos were skipped"


def test_link_headers_walk_the_pages_keeping_the_filters(alice: Account) -> None:
    work = alice.http.post("/api/v1/lists", json={"name": "linked"}).json()
    for i in range(3):
        alice.todo(f"walk me {i}", list_id=work["id"])
    alice.todo("walk me elsewhere")  # matches q, but in another list
    r = alice.http.get("/api/v1/todos", params={"list_id": work["id"], "limit": 1, "q": "walk me"})
    titles: list[str] = []
    while True:
        assert r.status_code == 200, r.text
        titles.extend(t["title"] for t in r.json()["items"])
        if "link" not in r.headers:
            break
        link = r.headers["link"]
        assert link.endswith('>; rel="next"')
        url = link[1 : link.index(">")]
        assert url.startswith("/api/v1/todos?")
        assert url.count("cursor=") == 1  # replaced, never added a second time
        r = alice.http.get(url)
    assert titles == ["walk me 0", "walk me 1", "walk me 2"]
