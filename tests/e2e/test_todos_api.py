"""Todos and lists through HTTP: representations, ETags, conditional requests, idempotency."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Account


def test_create_get_patch_put_delete(alice: Account) -> None:
    r = alice.http.post(
        "/api/v1/todos",
        json={"title": "  Buy milk ", "due": "2030-01-02T03:04:05+02:00", "priority": "high", "tags": ["shop"]},
    )
    assert r.status_code == 201
    todo = r.json()
    assert r.headers["location"] == f"/api/v1/todos/{todo['id']}"
    assert r.headers["etag"] == '"1"'
    assert todo["title"] == "Buy milk"
    assert todo["due"] == "2030-01-02T01:04:05Z"
    assert (todo["priority"], todo["tags"], todo["completed"], todo["version"]) == ("high", ["shop"], False, 1)
    assert todo["list_id"] == alice.inbox()

    got = alice.http.get(f"/api/v1/todos/{todo['id']}")
    assert got.json() == todo
    assert got.headers["etag"] == '"1"'

    patched = alice.http.patch(f"/api/v1/todos/{todo['id']}", json={"completed": True, "due": None})
    assert patched.status_code == 200
    assert patched.json()["completed"] is True
    assert patched.json()["completed_at"] is not None
    assert patched.json()["due"] is None
    assert patched.headers["etag"] == '"2"'

    replaced = alice.http.put(f"/api/v1/todos/{todo['id']}", json={**patched.json(), "title": "Oat milk", "tags": []})
    assert replaced.status_code == 200
    assert (replaced.json()["title"], replaced.json()["tags"], replaced.json()["version"]) == ("Oat milk", [], 3)

    assert alice.http.delete(f"/api/v1/todos/{todo['id']}").status_code == 204
    assert alice.http.get(f"/api/v1/todos/{todo['id']}").status_code == 404


def test_conditional_requests(alice: Account) -> None:
    todo = alice.todo("cond")
    url = f"/api/v1/todos/{todo['id']}"
    assert alice.http.get(url, headers={"If-None-Match": '"1"'}).status_code == 304
    assert alice.http.get(url, headers={"If-None-Match": '"9"'}).status_code == 200
    stale = alice.http.patch(url, json={"title": "x"}, headers={"If-Match": '"9"'})
    assert stale.status_code == 412
    assert stale.headers["etag"] == '"1"'
    assert alice.http.patch(url, json={"title": "y"}, headers={"If-Match": '"1"'}).status_code == 200
    assert alice.http.put(url, json={"title": "z"}, headers={"If-Match": '"1"'}).status_code == 412
    assert alice.http.delete(url, headers={"If-Match": '"1"'}).status_code == 412
    assert alice.http.get(url).json()["title"] == "y"
    assert alice.http.delete(url, headers={"If-Match": '"2"'}).status_code == 204


def test_idempotency_key(alice: Account) -> None:
    headers = {"Idempotency-Key": "create-once-1"}
    first = alice.http.post("/api/v1/todos", json={"title": "once"}, headers=headers)
    again = alice.http.post("/api/v1/todos", json={"title": "once"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    other = alice.http.post("/api/v1/todos", json={"title": "different"}, headers=headers)
    assert other.status_code == 422
    assert [t["title"] for t in alice.http.get("/api/v1/todos").json()["items"]] == ["once"]


@pytest.mark.parametrize("path", ["/api/v1/lists", "/api/v1/auth/register"], ids=["lists", "register"])
def test_idempotency_key_on_other_creates(alice: Account, path: str) -> None:
    body = (
        {"name": "Groceries"} if path.endswith("lists") else {"email": f"k-{alice.email}", "password": "pass-word-12"}
    )
    headers = {"Idempotency-Key": f"k-{alice.id}"}
    first = alice.http.post(path, json=body, headers=headers)
    again = alice.http.post(path, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()


def test_lists_crud_and_bulk_actions(alice: Account) -> None:
    created = alice.http.post("/api/v1/lists", json={"name": " Work "})
    assert created.status_code == 201
    work = created.json()
    assert work["name"] == "Work"
    url = f"/api/v1/lists/{work['id']}"
    assert alice.http.get(url).headers["etag"] == '"1"'
    assert alice.http.get(url, headers={"If-None-Match": '"1"'}).status_code == 304
    assert alice.http.patch(url, json={"name": "Job"}, headers={"If-Match": '"5"'}).status_code == 412
    renamed = alice.http.patch(url, json={"name": "Job"}, headers={"If-Match": '"1"'})
    assert (renamed.status_code, renamed.json()["name"], renamed.json()["version"]) == (200, "Job", 2)
    names = [lst["name"] for lst in alice.http.get("/api/v1/lists").json()["items"]]
    assert names == ["Inbox", "Job"]

    ids = [alice.todo(t, list_id=work["id"])["id"] for t in ("a", "b", "c")]
    reordered = alice.http.post(f"{url}/reorder", json={"todo_ids": [ids[2], ids[0], ids[1]]})
    assert [t["title"] for t in reordered.json()["items"]] == ["c", "a", "b"]
    listed = alice.http.get("/api/v1/todos", params={"list_id": work["id"]}).json()["items"]
    assert [t["title"] for t in listed] == ["c", "a", "b"]

    assert alice.http.post(f"{url}/complete-all").json() == {"affected": 3}
    assert alice.http.post(f"{url}/clear-completed").json() == {"affected": 3}
    assert alice.http.get("/api/v1/todos", params={"list_id": work["id"]}).json()["items"] == []

    alice.todo("doomed", list_id=work["id"])
    assert alice.http.delete(url).status_code == 204
    assert alice.http.get(url).status_code == 404
    assert alice.http.get("/api/v1/todos", params={"list_id": work["id"]}).status_code == 404


def test_filters_and_sorting(alice: Account) -> None:
    alice.todo("later", due="2031-01-01T00:00:00Z", priority="low", tags=["a"])
    alice.todo("sooner", due="2030-01-01T00:00:00Z", priority="high", notes="find ME")
    alice.todo("never", completed=True, tags=["a", "b"])

    def titles(**params: Any) -> list[str]:
        r = alice.http.get("/api/v1/todos", params=params)
        assert r.status_code == 200, r.text
        return [t["title"] for t in r.json()["items"]]

    assert titles() == ["later", "sooner", "never"]
    assert titles(sort="due") == ["sooner", "later", "never"]
    assert titles(sort="-due") == ["never", "later", "sooner"]
    assert titles(sort="due:desc") == ["never", "later", "sooner"]
    assert titles(sort="priority", direction="desc") == ["sooner", "later", "never"]
    assert titles(sort="-created") == ["never", "sooner", "later"]
    assert titles(completed="true") == ["never"]
    assert titles(tag="a") == ["later", "never"]
    assert titles(q="find me") == ["sooner"]
    assert titles(due_before="2030-06-01T00:00:00Z") == ["sooner"]
    assert titles(due_after="2030-06-01T00:00:00Z") == ["later"]


def test_link_header_and_next_cursor(alice: Account) -> None:
    for i in range(5):
        alice.todo(f"t{i}")
    first = alice.http.get("/api/v1/todos", params={"limit": 2, "sort": "-created"})
    body = first.json()
    assert len(body["items"]) == 2
    assert body["next"]
    link = first.headers["link"]
    assert link.endswith('rel="next"')
    following = alice.http.get(link[1 : link.index(">")])
    assert following.json()["items"][0]["title"] == "t2"
    assert alice.http.get("/api/v1/todos", params={"limit": 2, "cursor": body["next"]}).status_code == 422


def test_users_me(alice: Account) -> None:
    me = alice.http.get("/api/v1/users/me")
    assert me.json()["email"] == alice.email
    assert "password" not in me.text
