"""Every client mistake gets its own status and a problem+json body; none of them is a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import Account

PROBLEM = "application/problem+json"


def _problem(r: httpx.Response, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = r.json()
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert isinstance(body["detail"], str)
    assert str(body["type"]).startswith("urn:todostack:problem:")
    return body


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/api/v1/todos", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
        # A JSON string holding bytes that are not UTF-8 (found by schemathesis: it was a 500).
        ("PATCH", "/todobackend/0", {"content": b'"\xff\xfe"', "headers": JSON}, 400),
        ("POST", "/api/v1/todos", {"content": b'{"title": "\xff"}', "headers": JSON}, 400),
        ("POST", "/api/v1/todos", {"content": b"title=x", "headers": {"content-type": "text/plain"}}, 415),
        ("POST", "/api/v1/todos", {"json": {"title": "x" * 501}}, 422),
        ("POST", "/api/v1/todos", {"json": ["not", "an", "object"]}, 422),
        ("POST", "/api/v1/todos", {"json": {"title": "x", "bogus": 1}}, 422),
        ("POST", "/api/v1/todos", {"json": {"title": "nul\u0000byte"}}, 422),
        ("POST", "/api/v1/todos", {"json": {"title": "x", "completed": 0}}, 422),
        ("POST", "/api/v1/todos", {"json": {"title": "x", "order": "5"}}, 422),
        ("GET", "/api/v1/todos?q=nul%00byte", {}, 422),
        ("GET", "/api/v1/todos?due_before=0.5", {}, 422),
        ("GET", "/api/v1/todos?limit=0", {}, 422),
        ("GET", "/api/v1/todos?sort=sideways", {}, 422),
        ("GET", "/api/v1/todos?cursor=garbage", {}, 422),
        ("GET", "/api/v1/todos?completed=maybe", {}, 422),
        ("GET", "/api/v1/todos/not-a-uuid", {}, 404),
        ("GET", "/api/v1/nothing-here", {}, 404),
        ("PUT", "/api/v1/lists", {"json": {}}, 405),
        ("DELETE", "/api/v1/todos", {}, 405),
    ],
    ids=[
        "malformed-json",
        "json-string-not-utf8",
        "json-title-not-utf8",
        "wrong-content-type",
        "title-too-long",
        "body-not-object",
        "unknown-field",
        "nul-in-title",
        "number-for-boolean",
        "string-for-integer",
        "nul-in-query",
        "number-for-date-time",
        "limit-zero",
        "bad-sort",
        "bad-cursor",
        "bad-boolean",
        "malformed-id",
        "unknown-route",
        "wrong-method",
        "wrong-method-collection",
    ],
)
def test_client_mistakes(alice: Account, method: str, path: str, kwargs: dict[str, object], status: int) -> None:
    _problem(alice.http.request(method, path, **kwargs), status)  # type: ignore[arg-type]


def test_validation_lists_every_bad_field(alice: Account) -> None:
    r = alice.http.post("/api/v1/todos", json={"title": "", "priority": "urgent", "tags": "nope", "order": 1.5})
    body = _problem(r, 422)
    fields = {e["field"] for e in body["errors"]}  # type: ignore[attr-defined]
    assert fields == {"title", "priority", "tags", "order"}


def test_integral_floats_count_as_integers(alice: Account) -> None:
    r = alice.http.post("/api/v1/todos", json={"title": "x", "order": 7.0})
    assert r.status_code == 201, r.text
    assert r.json()["order"] == 7


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/v1/lists", {"GET", "POST", "OPTIONS"}),
        ("/api/v1/todos/00000000-0000-4000-8000-000000000001", {"GET", "PATCH", "PUT", "DELETE", "OPTIONS"}),
        ("/api/v1/auth/token", {"POST", "DELETE", "OPTIONS"}),
    ],
    ids=["collection", "item", "public"],
)
def test_options_lists_every_method(anon: httpx.Client, path: str, methods: set[str]) -> None:
    r = anon.options(path)
    assert r.status_code == 204
    assert {m.strip() for m in r.headers["allow"].split(",")} == methods


def test_body_over_one_mebibyte_is_413(alice: Account) -> None:
    r = alice.http.post("/api/v1/todos", json={"title": "x", "notes": "n" * (1024 * 1024)})
    _problem(r, 413)


def test_wrong_method_says_what_is_allowed(alice: Account) -> None:
    r = alice.http.put("/api/v1/lists", json={})
    _problem(r, 405)
    assert "POST" in r.headers.get("allow", "")


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer ts1.x.99999999999.forged"],
    ids=["missing", "empty-bearer", "garbage-token", "wrong-scheme", "forged"],
)
def test_unauthenticated_is_401_with_challenge(anon: httpx.Client, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    r = anon.get("/api/v1/todos", headers=headers)
    _problem(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_wrong_password_is_401(alice: Account, anon: httpx.Client) -> None:
    r = anon.post("/api/v1/auth/token", json={"email": alice.email, "password": "wrong password"})
    _problem(r, 401)


def test_a_duplicate_email_is_not_told_apart_from_a_new_one(alice: Account, anon: httpx.Client) -> None:
    # Issue 18: a 409 here told anyone which emails have accounts (test_auth_hardening has the rest).
    r = anon.post("/api/v1/auth/register", json={"email": alice.email.upper(), "password": "another-pass-12"})
    assert r.status_code == 201, r.text
    assert r.json()["id"] != alice.id
