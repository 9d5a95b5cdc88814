"""``TODOSTACK_TRUSTED_PROXIES``: X-Forwarded-* believed only from trusted peers, applied to the ASGI scope."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from todostack.delivery.http.asgi.proxies import TrustedProxies, parse_networks
from todostack.delivery.http.asgi.types import Receive, Scope, Send
from todostack.runtime.settings import Settings, SettingsError

pytestmark = pytest.mark.unit

PROXIES = parse_networks(["10.0.0.0/8", "192.168.1.7", "fd00::/8"])


def _scope(peer: str | None, headers: list[tuple[str, str]], kind: str = "http") -> Scope:
    return {
        "type": kind,
        "scheme": "http" if kind == "http" else "ws",
        "client": (peer, 40000) if peer is not None else None,
        "server": ("127.0.0.1", 8000),
        "path": "/",
        "headers": [(b"host", b"app.internal:8000")]
        + [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers],
    }


def _seen(scope: Scope, networks: Any = PROXIES) -> Scope:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def receive() -> Any:
        return {}

    async def send(message: Any) -> None:
        return None

    asyncio.run(TrustedProxies(app, networks)(scope, receive, send))
    [after] = seen
    return after


def _host(scope: Scope) -> str:
    [host] = [str(v.decode("latin-1")) for n, v in scope["headers"] if n == b"host"]
    return host


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("10.1.2.3", "203.0.113.9", "203.0.113.9"),
        # The rightmost address that is not a trusted proxy: what the client wrote on the left is not believed.
        ("10.1.2.3", "6.6.6.6, 203.0.113.9", "203.0.113.9"),
        ("10.1.2.3", "6.6.6.6, 203.0.113.9, 10.9.9.9, 192.168.1.7", "203.0.113.9"),
        # Every hop a trusted proxy: the leftmost is the furthest anyone can say.
        ("10.1.2.3", "10.4.4.4, 10.5.5.5", "10.4.4.4"),
        ("10.1.2.3", "[2001:db8::1]:4711", "2001:db8::1"),
        ("10.1.2.3", "203.0.113.9:4711", "203.0.113.9"),
        ("::ffff:10.1.2.3", "203.0.113.9", "203.0.113.9"),
        ("fd00::5", "2001:db8::2", "2001:db8::2"),
        # Garbage left of a trusted hop: that hop is the client we can name, never the garbage.
        ("10.1.2.3", "not-an-address, 10.7.7.7", "10.7.7.7"),
        ("10.1.2.3", "unknown", "10.1.2.3"),
        # Spoofed by a peer that is not a proxy: ignored.
        ("203.0.113.50", "1.2.3.4", "203.0.113.50"),
        ("10.1.2.3", "", "10.1.2.3"),
    ],
    ids=[
        "one-hop",
        "spoof-left-of-proxy",
        "chain-of-proxies",
        "all-trusted",
        "ipv6-with-port",
        "ipv4-with-port",
        "ipv4-mapped-peer",
        "ipv6-peer",
        "garbage-then-proxy",
        "only-garbage",
        "untrusted-peer",
        "empty",
    ],
)
def test_the_client_is_the_rightmost_untrusted_forwarded_address(peer: str, forwarded_for: str, client: str) -> None:
    scope = _seen(_scope(peer, [("X-Forwarded-For", forwarded_for)]))
    assert scope["client"][0] == client


def test_several_forwarded_for_lines_are_one_list() -> None:
    scope = _seen(_scope("10.1.2.3", [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "203.0.113.9")]))
    assert scope["client"][0] == "203.0.113.9"


@pytest.mark.parametrize(
    ("peer", "headers", "scheme", "host"),
    [
        (
            "10.1.2.3",
            [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "todo.example.com")],
            "https",
            "todo.example.com",
        ),
        ("10.1.2.3", [("X-Forwarded-Proto", "HTTPS")], "https", "app.internal:8000"),
        (
            "10.1.2.3",
            [("X-Forwarded-Proto", "gopher"), ("X-Forwarded-Host", "bad host/x")],
            "http",
            "app.internal:8000",
        ),
        ("10.1.2.3", [("X-Forwarded-Host", "[2001:db8::1]:8443")], "http", "[2001:db8::1]:8443"),
        # Aligned lists: the entries of the client's own hop.
        (
            "10.1.2.3",
            [
                ("X-Forwarded-For", "203.0.113.9, 10.3.3.3"),
                ("X-Forwarded-Proto", "https, http"),
                ("X-Forwarded-Host", "todo.example.com, app.internal"),
            ],
            "https",
            "todo.example.com",
        ),
        (
            "203.0.113.50",
            [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil.example")],
            "http",
            "app.internal:8000",
        ),
        (None, [("X-Forwarded-Proto", "https")], "http", "app.internal:8000"),
    ],
    ids=["trusted", "case", "invalid-values", "ipv6-host", "aligned-chain", "untrusted-peer", "no-peer"],
)
def test_scheme_and_host_follow_a_trusted_proxy_only(
    peer: str | None, headers: list[tuple[str, str]], scheme: str, host: str
) -> None:
    scope = _seen(_scope(peer, headers))
    assert (scope["scheme"], _host(scope)) == (scheme, host)


def test_websockets_get_ws_schemes() -> None:
    scope = _seen(_scope("10.1.2.3", [("X-Forwarded-Proto", "https")], kind="websocket"))
    assert scope["scheme"] == "wss"


@pytest.mark.parametrize("peer", ["10.1.2.3", "203.0.113.50"], ids=["trusted", "untrusted"])
def test_forwarded_headers_never_reach_the_app(peer: str) -> None:
    headers = [("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "x.example")]
    scope = _seen(_scope(peer, [*headers, ("Accept", "application/json")]))
    names = [n for n, _ in scope["headers"]]
    assert not [n for n in names if n.startswith(b"x-forwarded-")]
    assert b"accept" in names


def test_without_trusted_proxies_nothing_is_believed() -> None:
    headers = [("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Proto", "https")]
    scope = _seen(_scope("127.0.0.1", headers), networks=())
    assert (scope["client"][0], scope["scheme"]) == ("127.0.0.1", "http")


def test_a_request_without_forwarded_headers_keeps_its_scope() -> None:
    original = _scope("10.1.2.3", [("Accept", "*/*")])
    headers = original["headers"]
    scope = _seen(original)
    assert scope["headers"] is headers
    assert scope["client"] == ("10.1.2.3", 40000)


def test_lifespan_passes_through() -> None:
    scope: Scope = {"type": "lifespan"}
    assert _seen(scope) == {"type": "lifespan"}


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("", ()),
        ("10.0.0.0/8", ("10.0.0.0/8",)),
        (" 10.0.0.0/8 , 172.16.0.0/12,127.0.0.1", ("10.0.0.0/8", "172.16.0.0/12", "127.0.0.1/32")),
        ("10.1.2.3/8", ("10.0.0.0/8",)),
        ("fd00::/8", ("fd00::/8",)),
    ],
    ids=["unset", "one", "several", "host-bits", "ipv6"],
)
def test_the_setting_reads_networks(raw: str, parsed: tuple[str, ...]) -> None:
    settings = Settings.from_env({"TODOSTACK_TRUSTED_PROXIES": raw})
    assert settings.server.trusted_proxies == parsed
    assert Settings.from_env(settings.to_env()).server.trusted_proxies == parsed


def test_the_setting_names_what_is_not_a_network() -> None:
    with pytest.raises(SettingsError, match=r"TODOSTACK_TRUSTED_PROXIES .*'10\.0\.0\.300'"):
        Settings.from_env({"TODOSTACK_TRUSTED_PROXIES": "10.0.0.0/8,10.0.0.300"})
