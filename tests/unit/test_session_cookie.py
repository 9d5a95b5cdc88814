"""The page's session cookie: ``Secure`` exactly when the request came over HTTPS (as the ASGI
scope says, after the trusted-proxy step), never because of a header anyone can send."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from tests.unit.test_http_app import SETTINGS, _storage
from todostack.bootstrap import create_app

PASSWORD = "correct horse battery"


@pytest.mark.parametrize(
    ("base_url", "headers", "secure"),
    [
        ("https://todo.example", {}, True),
        ("http://todo.example", {}, False),
        ("http://todo.example", {"X-Forwarded-Proto": "https"}, False),
    ],
    ids=["https", "http", "spoofed-forwarded-proto"],
)
def test_the_session_cookie_is_secure_over_https(base_url: str, headers: dict[str, str], secure: bool) -> None:
    with TestClient(create_app(SETTINGS, storage=_storage()), base_url=base_url) as client:
        body = {"email": "ada@example.com", "password": PASSWORD}
        assert client.post("/api/v1/auth/register", json=body).status_code == 201
        signed_in = client.post("/api/v1/auth/session", json=body, headers=headers)
        assert signed_in.status_code == 200, signed_in.text
        cookie = signed_in.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert ("; secure" in cookie) is secure
        signed_out = client.delete("/api/v1/auth/session", headers={"Sec-Fetch-Site": "same-origin", **headers})
        assert signed_out.status_code == 204
        assert ("; secure" in signed_out.headers["set-cookie"].lower()) is secure


def test_a_throttled_sign_in_is_a_problem_with_retry_after() -> None:
    with TestClient(create_app(SETTINGS, storage=_storage())) as client:
        body = {"email": "nobody@example.com", "password": "wrong password!"}
        for _ in range(5):
            assert client.post("/api/v1/auth/token", json=body).status_code == 401
        refused = client.post("/api/v1/auth/token", json=body)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["detail"] == "too many failed sign-ins for this account; try again in 1 s"
