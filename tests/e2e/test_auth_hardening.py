"""Issue 18, "Authentication", against a real ``todostack serve`` on SQLite and PostgreSQL.

Each throttling test sends from its own loopback address (127.0.0.0/8 is all ours), so the limits
one test trips never reach another.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server import RunningServer, run_postgres_server, run_server

PASSWORD = "correct horse battery"
_addresses = itertools.count(2)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def auth_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp(f"auth-{request.param}")
    if request.param == "sqlite":
        with run_server(f"sqlite:///{tmp}/auth.db", tmp) as running:
            yield running
        return
    with run_postgres_server(tmp) as running:
        yield running


def _new_address() -> str:
    """A loopback address no other test uses (127.0.0.1 is everyone else's)."""
    n = next(_addresses)
    return f"127.0.{n // 250}.{n % 250 + 2}"


def _from_address(server: RunningServer, address: str | None = None) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address or _new_address())
    return httpx.Client(base_url=server.url, timeout=30, transport=transport)


def _register(server: RunningServer) -> str:
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    with _from_address(server) as anon:
        r = anon.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert r.status_code == 201, r.text
    return email


def _token(server: RunningServer, email: str, password: str = PASSWORD) -> str:
    with _from_address(server) as anon:
        r = anon.post("/api/v1/auth/token", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])


def _me(server: RunningServer, token: str) -> int:
    with server.client(token) as http:
        return http.get("/api/v1/users/me").status_code


def _assert_throttled(r: httpx.Response, says: str) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(r.headers["retry-after"]) <= 900
    body = r.json()
    assert body["status"] == 429
    assert says in body["detail"]


def test_an_address_past_its_limit_gets_a_fast_429(auth_server: RunningServer) -> None:
    email = _register(auth_server)
    with _from_address(auth_server) as guesser:
        for n in range(10):
            r = guesser.post("/api/v1/auth/token", json={"email": f"g{n}-{email}", "password": "wrong password!"})
            assert r.status_code == 401, r.text
        # Past the limit even the right password is refused, before it is checked.
        refused = guesser.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        _assert_throttled(refused, "from this address")
        cookie = guesser.post("/api/v1/auth/session", json={"email": email, "password": PASSWORD})
        _assert_throttled(cookie, "from this address")
    _token(auth_server, email)  # from elsewhere: unaffected


def test_an_account_under_attack_locks_whatever_the_address(auth_server: RunningServer) -> None:
    email = _register(auth_server)
    for _ in range(5):
        with _from_address(auth_server) as guesser:
            r = guesser.post("/api/v1/auth/token", json={"email": email, "password": "wrong password!"})
            assert r.status_code == 401, r.text
    with _from_address(auth_server) as owner:
        _assert_throttled(
            owner.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD}), "for this account"
        )


def test_sign_out_ends_that_token_only(auth_server: RunningServer) -> None:
    email = _register(auth_server)
    phone, laptop = _token(auth_server, email), _token(auth_server, email)
    with auth_server.client(phone) as http:
        assert http.delete("/api/v1/auth/token").status_code == 204
    assert _me(auth_server, phone) == 401
    assert _me(auth_server, laptop) == 200


def test_the_pages_sign_out_ends_its_cookie_session(auth_server: RunningServer) -> None:
    email = _register(auth_server)
    with _from_address(auth_server) as page:
        r = page.post("/api/v1/auth/session", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        cookie = r.cookies["todostack_session"]
        assert "secure" not in r.headers["set-cookie"].lower()  # plain HTTP here
        assert page.get("/api/v1/users/me").status_code == 200
        assert page.delete("/api/v1/auth/session").status_code == 204
    with httpx.Client(base_url=auth_server.url, cookies={"todostack_session": cookie}) as replayed:
        assert replayed.get("/api/v1/users/me").status_code == 401


def test_sign_out_everywhere(auth_server: RunningServer) -> None:
    email = _register(auth_server)
    phone, laptop = _token(auth_server, email), _token(auth_server, email)
    with auth_server.client(phone) as http:
        r = http.delete("/api/v1/auth/sessions")
        assert r.status_code == 200, r.text
        assert r.json() == {"sessions_ended": 2}
    assert (_me(auth_server, phone), _me(auth_server, laptop)) == (401, 401)


def test_a_password_change_ends_every_session(auth_server: RunningServer) -> None:
    email = _register(auth_server)
    old = _token(auth_server, email)
    other = _token(auth_server, email)
    with auth_server.client(old) as http:
        weak = http.put("/api/v1/users/me/password", json={"current_password": PASSWORD, "new_password": "password"})
        assert weak.status_code == 422, weak.text
        r = http.put(
            "/api/v1/users/me/password", json={"current_password": PASSWORD, "new_password": "a brand new passphrase"}
        )
        assert r.status_code == 200, r.text
        fresh = r.json()["access_token"]
    assert (_me(auth_server, old), _me(auth_server, other), _me(auth_server, fresh)) == (401, 401, 200)
    _token(auth_server, email, "a brand new passphrase")


def test_an_operator_revokes_a_user_from_the_command_line(auth_server: RunningServer) -> None:
    email = _register(auth_server)
    token = _token(auth_server, email)
    assert _me(auth_server, token) == 200
    env = {**os.environ, "TODOSTACK_DATABASE_URL": auth_server.database_url}
    done = subprocess.run(
        [sys.executable, "-m", "todostack", "user", "revoke", email.upper()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ended 1 session" in done.stdout
    # The worker trusts what it saw for TODOSTACK_SESSION_CHECK_SECONDS (1 s): wait for it, bounded.
    deadline = time.monotonic() + 30
    while _me(auth_server, token) != 401:
        assert time.monotonic() < deadline, "the revoked token still works"
        time.sleep(0.1)
    missing = subprocess.run(
        [sys.executable, "-m", "todostack", "user", "revoke", f"nobody-{email}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 4
    assert "no account" in missing.stderr


def test_registration_tells_nobody_who_has_an_account(auth_server: RunningServer) -> None:
    email = _register(auth_server)
    with _from_address(auth_server) as anon:
        again = anon.post("/api/v1/auth/register", json={"email": email, "password": "someone else's guess"})
        fresh = anon.post("/api/v1/auth/register", json={"email": f"new-{email}", "password": "someone else's guess"})
    assert again.status_code == fresh.status_code == 201
    assert set(again.json()) == set(fresh.json())
    assert set(again.headers) - {"date", "x-request-id", "traceparent", "content-length"} == set(fresh.headers) - {
        "date",
        "x-request-id",
        "traceparent",
        "content-length",
    }
    _token(auth_server, email)  # the account still has its own password


def test_a_registration_key_never_replays_someone_elses_account(auth_server: RunningServer) -> None:
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    key = {"Idempotency-Key": f"reg-{uuid.uuid4()}"}
    with _from_address(auth_server) as anon:
        first = anon.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD}, headers=key)
        assert first.status_code == 201, first.text
        same = anon.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD}, headers=key)
        assert same.status_code == 201
        assert same.headers["idempotent-replayed"] == "true"
        thief = anon.post("/api/v1/auth/register", json={"email": email, "password": "a guessed password"}, headers=key)
    assert thief.status_code == 422, thief.text
    assert first.json()["id"] not in thief.text


@pytest.mark.parametrize(
    ("password", "says"),
    [("short pw", "at least 12 characters"), ("1q2w3e4r5t6y", "most common passwords"), (" " * 12, "repeated")],
    ids=["short", "common", "spaces"],
)
def test_weak_passwords_are_refused_with_the_reason(auth_server: RunningServer, password: str, says: str) -> None:
    with _from_address(auth_server) as anon:
        r = anon.post("/api/v1/auth/register", json={"email": f"{uuid.uuid4().hex}@example.com", "password": password})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert any(says in e["message"] for e in r.json()["errors"]), r.text


def test_a_token_minted_with_the_old_development_secret_is_refused(auth_server: RunningServer) -> None:
    from datetime import UTC, datetime

    from todostack.adapters.tokens import HmacTokenCodec
    from todostack.usecases.ports import TokenClaims

    email = _register(auth_server)
    with auth_server.client(_token(auth_server, email)) as http:
        user_id = http.get("/api/v1/users/me").json()["id"]
    now = datetime.now(UTC)
    forged = HmacTokenCodec("insecure-development-secret-change-me").issue(
        TokenClaims(user_id, "made-up", int(now.timestamp()), int(now.timestamp()) + 3600)
    )
    assert _me(auth_server, forged) == 401


def test_sqlite_keeps_a_generated_secret_beside_the_database(tmp_path: Path) -> None:
    env = {"TODOSTACK_SECRET_KEY": ""}  # as if unset: the test-wide key is taken away
    url = f"sqlite:///{tmp_path}/own.db"
    with run_server(url, tmp_path, env=env) as first:
        email = _register(first)
        token = _token(first, email)
    secret = tmp_path / "todostack-secret-key"
    assert secret.stat().st_mode & 0o077 == 0  # the owner's alone
    assert len(secret.read_text().strip()) >= 32
    with run_server(url, tmp_path, env=env) as again:
        assert _me(again, token) == 200  # the same key after a restart


def test_postgresql_without_a_secret_refuses_to_start(tmp_path: Path) -> None:
    from tests.server import migrated_schema

    with migrated_schema() as url:
        env = {k: v for k, v in os.environ.items() if k != "TODOSTACK_SECRET_KEY"}
        env["TODOSTACK_DATABASE_URL"] = url
        done = subprocess.run(
            [sys.executable, "-m", "todostack", "serve"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert "TODOSTACK_SECRET_KEY is not set" in done.stderr
    assert "PostgreSQL" in done.stderr


def test_throttling_is_shared_by_workers_and_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    address = _new_address()
    with run_server(url, tmp_path, workers=2) as server, _from_address(server, address) as guesser:
        for n in range(10):
            # New connections: granian spreads them over both workers.
            r = guesser.post(
                "/api/v1/auth/token",
                json={"email": f"n{n}@example.com", "password": "wrong password!"},
                headers={"Connection": "close"},
            )
            assert r.status_code == 401, r.text
        _assert_throttled(
            guesser.post("/api/v1/auth/token", json={"email": "x@example.com", "password": "wrong password!"}),
            "from this address",
        )
    with run_server(url, tmp_path) as restarted, _from_address(restarted, address) as same_address:
        r = same_address.post("/api/v1/auth/token", json={"email": "x@example.com", "password": "wrong password!"})
        _assert_throttled(r, "from this address")


def test_redis_holds_the_counters_when_configured(tmp_path: Path) -> None:
    import redis

    with run_server(
        f"sqlite:///{tmp_path}/r.db", tmp_path, env={"TODOSTACK_REDIS_URL": "redis://127.0.0.1:6379/0"}
    ) as server:
        email = f"{uuid.uuid4().hex}@example.com"
        with _from_address(server) as guesser:
            for _ in range(5):
                assert guesser.post("/api/v1/auth/token", json={"email": email, "password": "nope nope"}).status_code
            _assert_throttled(
                guesser.post("/api/v1/auth/token", json={"email": email, "password": "nope nope"}), "for this account"
            )
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        assert client.exists(f"todostack:signin:account:{email}") == 1
    finally:
        client.close()
