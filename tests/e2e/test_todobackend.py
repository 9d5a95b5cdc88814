"""The Todo-Backend contract (todobackend.com), as its spec runner exercises it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server import RunningServer, run_server

ROOT = "/todobackend"


@pytest.fixture
def tb(server: RunningServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        client.delete(ROOT)
        yield client


def test_root_lifecycle(tb: httpx.Client, server: RunningServer) -> None:
    assert tb.get(ROOT).json() == []
    created = tb.post(ROOT, json={"title": "a todo"})
    assert created.status_code == 201
    todo = created.json()
    assert (todo["title"], todo["completed"]) == ("a todo", False)
    assert todo["url"] == f"{server.url}{ROOT}/{todo['id']}"
    assert isinstance(todo["order"], int)
    assert tb.get(ROOT).json() == [todo]
    assert tb.delete(ROOT).status_code == 204
    assert tb.get(ROOT).json() == []


def test_item_navigation_by_url(tb: httpx.Client) -> None:
    todo = tb.post(ROOT, json={"title": "walk", "order": 523}).json()
    assert todo["order"] == 523
    url = todo["url"]
    assert tb.get(url).json() == todo
    patched = tb.patch(url, json={"title": "run", "completed": True}).json()
    assert (patched["title"], patched["completed"], patched["order"]) == ("run", True, 523)
    assert tb.patch(url, json={"order": 95}).json()["order"] == 95
    assert tb.get(url).json()["title"] == "run"
    assert tb.delete(url).status_code == 204
    assert tb.get(url).status_code == 404
    assert tb.get(ROOT).json() == []


def test_put_ignores_read_only_fields(tb: httpx.Client) -> None:
    todo = tb.post(ROOT, json={"title": "x"}).json()
    r = tb.put(todo["url"], json={**todo, "title": "y", "id": "ignored", "url": "http://evil/"})
    assert r.status_code == 200
    assert r.json() == {**todo, "title": "y"}


def test_absolute_urls_ignore_forwarded_headers_from_untrusted_peers(tb: httpx.Client, server: RunningServer) -> None:
    # Believed only from TODOSTACK_TRUSTED_PROXIES (tests/e2e/test_trusted_proxies.py); unset here.
    r = tb.post(
        ROOT,
        json={"title": "proxied"},
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "todo.example.com"},
    )
    assert r.json()["url"].startswith(f"{server.url}{ROOT}/")


@pytest.mark.parametrize("path", [ROOT, f"{ROOT}/00000000-0000-4000-8000-000000000001"], ids=["collection", "item"])
def test_cors_preflight(tb: httpx.Client, path: str) -> None:
    r = tb.options(
        path,
        headers={
            "Origin": "http://www.todobackend.com",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert r.status_code in (200, 204)
    assert r.headers["access-control-allow-origin"] == "*"
    assert "PATCH" in r.headers["access-control-allow-methods"]
    assert "content-type" in r.headers["access-control-allow-headers"].lower()


def test_cors_on_every_answer_errors_included(tb: httpx.Client) -> None:
    ok = tb.get(ROOT, headers={"Origin": "http://www.todobackend.com"})
    missing = tb.get(f"{ROOT}/00000000-0000-4000-8000-000000000001", headers={"Origin": "http://x"})
    assert ok.headers["access-control-allow-origin"] == "*"
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == "*"


def test_demo_list_has_a_cap(tmp_path: Path) -> None:
    env = {"TODOSTACK_TODOBACKEND_CAPACITY": "3"}
    with run_server(f"sqlite:///{tmp_path}/cap.db", tmp_path, env=env) as running, running.client() as client:
        for i in range(3):
            assert client.post(ROOT, json={"title": f"t{i}"}).status_code == 201
        full = client.post(ROOT, json={"title": "one too many"})
        assert full.status_code == 409
        assert "full" in full.json()["detail"]


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({"TODOSTACK_ENV": "production", "TODOSTACK_SECRET_KEY": "p" * 40}, False),
        ({"TODOSTACK_ENV": "production", "TODOSTACK_SECRET_KEY": "p" * 40, "TODOSTACK_TODOBACKEND": "on"}, True),
        ({"TODOSTACK_TODOBACKEND": "off"}, False),
    ],
    ids=["off-in-production", "production-override-on", "development-override-off"],
)
def test_switch(tmp_path: Path, env: dict[str, str], enabled: bool) -> None:
    with run_server(f"sqlite:///{tmp_path}/sw.db", tmp_path, env=env) as running, running.client() as client:
        assert (client.get(ROOT).status_code == 200) is enabled
