"""Bounded resources on a real server (SQLite and PostgreSQL): quotas, lists in pages, /metrics kept
off the public listener."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.conftest import Account, sign_up
from tests.server import RunningServer, free_port, run_postgres_server, run_server

QUOTA_LISTS = 4
QUOTA_TODOS = 5
ADMIN = "an-admin-token-of-forty-characters-or-so-x"


@dataclass(frozen=True)
class Bounded:
    server: RunningServer
    metrics_url: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def bounded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bounded]:
    tmp = tmp_path_factory.mktemp(f"bounded-{request.param}")
    metrics_port = free_port()
    env = {
        "TODOSTACK_QUOTA_LISTS": str(QUOTA_LISTS),
        "TODOSTACK_QUOTA_TODOS": str(QUOTA_TODOS),
        "TODOSTACK_METRICS_PUBLIC": "off",  # the production default (tests.server turns it on)
        "TODOSTACK_METRICS_PORT": str(metrics_port),
        "TODOSTACK_ADMIN_TOKEN": ADMIN,
    }
    if request.param == "sqlite":
        with run_server(f"sqlite:///{tmp}/bounded.db", tmp, workers=2, env=env) as running:
            yield Bounded(running, f"http://127.0.0.1:{metrics_port}")
        return
    with run_postgres_server(tmp, workers=2, env=env) as running:
        yield Bounded(running, f"http://127.0.0.1:{metrics_port}")


@pytest.fixture
def member(bounded: Bounded) -> Iterator[Account]:
    account = sign_up(bounded.server)
    yield account
    account.http.close()


def _quota_problem(answer: httpx.Response, what: str) -> None:
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["type"] == "urn:todostack:problem:quota-exceeded"
    assert f"at most {QUOTA_LISTS if what == 'lists' else QUOTA_TODOS} {what}" in body["detail"]


def test_an_account_past_its_list_quota_gets_a_clear_403(member: Account) -> None:
    for n in range(QUOTA_LISTS - 1):  # the inbox is the first
        assert member.http.post("/api/v1/lists", json={"name": f"l{n}"}).status_code == 201
    _quota_problem(member.http.post("/api/v1/lists", json={"name": "one too many"}), "lists")
    lists = member.http.get("/api/v1/lists").json()["items"]
    assert len(lists) == QUOTA_LISTS  # nothing stored was lost, nothing extra was made
    assert member.http.delete(f"/api/v1/lists/{lists[-1]['id']}").status_code == 204
    assert member.http.post("/api/v1/lists", json={"name": "room again"}).status_code == 201


def test_an_account_past_its_todo_quota_gets_a_clear_403(member: Account, bounded: Bounded) -> None:
    ids = [member.todo(f"t{n}")["id"] for n in range(QUOTA_TODOS)]
    _quota_problem(member.http.post("/api/v1/todos", json={"title": "over"}), "todos")
    keyed = member.http.post("/api/v1/todos", json={"title": "over"}, headers={"Idempotency-Key": "k-over"})
    _quota_problem(keyed, "todos")
    other = sign_up(bounded.server)  # the quota is per account
    try:
        assert other.http.post("/api/v1/todos", json={"title": "mine"}).status_code == 201
    finally:
        other.http.close()
    assert member.http.delete(f"/api/v1/todos/{ids[0]}").status_code == 204
    assert member.http.post("/api/v1/todos", json={"title": "room again"}).status_code == 201


def test_lists_come_in_pages_with_next_and_a_link(member: Account) -> None:
    for n in range(QUOTA_LISTS - 1):
        member.http.post("/api/v1/lists", json={"name": f"l{n}"})
    first = member.http.get("/api/v1/lists")
    assert first.json()["next"] is None  # the default page holds every list an account may have
    assert "link" not in first.headers
    everything = [lst["id"] for lst in first.json()["items"]]
    assert len(everything) == QUOTA_LISTS
    seen: list[str] = []
    url = "/api/v1/lists?limit=3"
    while True:
        page = member.http.get(url)
        assert page.status_code == 200, page.text
        seen += [lst["id"] for lst in page.json()["items"]]
        if page.json()["next"] is None:
            break
        link = page.headers["link"]
        assert link.endswith('; rel="next"')
        target = link[1 : link.index(">")]
        assert parse_qs(urlsplit(target).query)["cursor"] == [page.json()["next"]]
        url = target
    assert seen == everything


@pytest.mark.parametrize(
    ("query", "status"),
    [("limit=0", 422), ("limit=501", 422), ("cursor=bm90IGpzb24", 422), ("cursor=%25%25", 422)],
    ids=["limit-zero", "limit-too-big", "bad-cursor", "cursor-not-base64url"],
)
def test_a_bad_page_request_is_a_clear_problem(member: Account, query: str, status: int) -> None:
    answer = member.http.get(f"/api/v1/lists?{query}")
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_metrics_are_off_the_public_listener_and_on_their_own_port(bounded: Bounded, member: Account) -> None:
    member.http.get("/api/v1/lists")
    with bounded.server.client() as anon:
        assert anon.get("/metrics").status_code == 401  # with an admin token set: only to it
        assert anon.get("/metrics", headers={"Authorization": "Bearer not-it"}).status_code == 401
        assert anon.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 200
    scrape = httpx.get(f"{bounded.metrics_url}/metrics", timeout=30)
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'route="/api/v1/lists"' in scrape.text
    assert httpx.get(f"{bounded.metrics_url}/api/v1/lists", timeout=30).status_code == 404
    assert httpx.head(f"{bounded.metrics_url}/metrics", timeout=30).content == b""


def test_without_an_admin_token_public_metrics_are_not_there(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("no-metrics")
    env = {"TODOSTACK_METRICS_PUBLIC": "off"}
    with run_server(f"sqlite:///{tmp}/m.db", tmp, env=env) as server, server.client() as anon:
        answer = anon.get("/metrics")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
