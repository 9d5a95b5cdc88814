"""A user never sees or touches another user's data: their ids answer exactly like missing ones."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import Account


@pytest.mark.parametrize(
    ("method", "template", "body"),
    [
        ("GET", "/api/v1/todos/{todo}", None),
        ("PATCH", "/api/v1/todos/{todo}", {"title": "stolen"}),
        ("PUT", "/api/v1/todos/{todo}", {"title": "stolen"}),
        ("DELETE", "/api/v1/todos/{todo}", None),
        ("GET", "/api/v1/lists/{list}", None),
        ("PATCH", "/api/v1/lists/{list}", {"name": "stolen"}),
        ("DELETE", "/api/v1/lists/{list}", None),
        ("POST", "/api/v1/lists/{list}/complete-all", None),
        ("POST", "/api/v1/lists/{list}/clear-completed", None),
        ("GET", "/api/v1/todos?list_id={list}", None),
    ],
    ids=["get", "patch", "put", "delete", "get-list", "rename-list", "delete-list", "complete-all", "clear", "filter"],
)
def test_foreign_ids_look_missing(
    alice: Account, bob: Account, method: str, template: str, body: dict[str, str] | None
) -> None:
    todo = alice.todo("private")
    theirs = template.format(todo=todo["id"], list=todo["list_id"])
    missing = template.format(todo=uuid.uuid4(), list=uuid.uuid4())
    r_theirs = bob.http.request(method, theirs, json=body)
    r_missing = bob.http.request(method, missing, json=body)
    assert r_theirs.status_code == r_missing.status_code == 404
    assert r_theirs.json()["title"] == r_missing.json()["title"]
    assert alice.http.get(f"/api/v1/todos/{todo['id']}").json() == todo


def test_moving_into_someone_elses_list_is_404(alice: Account, bob: Account) -> None:
    todo = bob.todo("mine")
    r = bob.http.patch(f"/api/v1/todos/{todo['id']}", json={"list_id": alice.inbox()})
    assert r.status_code == 404
    assert bob.http.post("/api/v1/todos", json={"title": "x", "list_id": alice.inbox()}).status_code == 404


def test_searches_only_see_your_own(alice: Account, bob: Account) -> None:
    alice.todo("alice only", tags=["t"])
    assert bob.http.get("/api/v1/todos", params={"tag": "t"}).json()["items"] == []
    assert bob.http.get("/api/v1/todos", params={"q": "alice only"}).json()["items"] == []
