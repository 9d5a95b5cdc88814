"""Who the client is, and which URL it used, when reverse proxies stand in front (``TODOSTACK_TRUSTED_PROXIES``).

The outermost ASGI step: it rewrites the scope before anything else reads it, so the access log, rate
decisions, absolute URLs, ``Secure`` cookies and HSTS all follow ``scope["client"]``, ``scope["scheme"]`` and
the ``host`` header, and nothing later reads ``X-Forwarded-*`` itself.

* From a peer inside a trusted network, ``X-Forwarded-For`` is read right to left, skipping the trusted
  proxies' own addresses: the first address that is not one of them is the client (every entry left of it
  was written by someone we cannot believe). ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` give the scheme
  and host the client used.
* From anyone else the three headers are dropped, unread: a spoofed ``X-Forwarded-For`` changes nothing.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TypeAlias

from todostack.delivery.http.asgi.types import ASGIApp, RawHeaders, Receive, Scope, Send

__all__ = ["Network", "TrustedProxies", "parse_networks", "rewrite_forwarded"]

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

_FORWARDED = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"})
_HOST = re.compile(r"[A-Za-z0-9.\-]{1,253}(:\d{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?")
_SCHEMES = {
    "http": {"http": "http", "https": "https", "ws": "http", "wss": "https"},
    "websocket": {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"},
}


def parse_networks(raw: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs (``10.0.0.0/8``) or single addresses; ``ValueError`` names the one that is neither."""
    networks = []
    for item in raw:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{item.strip()!r} is not an IP network (CIDR such as 10.0.0.0/8) or address") from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    """An address from a header entry: bare, ``[v6]``, ``v4:port`` or ``[v6]:port``; None if it is none."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=16384)  # parsing costs microseconds; a proxy sends the same few client addresses again and again
def _normalized(text: str) -> str | None:
    """The address in a header entry as the service writes it (``2001:db8::1``, ``203.0.113.9``), or None."""
    address = _address(text)
    return None if address is None else str(address)


def _entries(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def rewrite_forwarded(scope: Scope, trusts: Callable[[str], bool]) -> None:
    """Apply ``X-Forwarded-*`` to ``scope`` if its peer is trusted; remove them from its headers either way."""
    headers: RawHeaders = scope["headers"]
    for name, _ in headers:
        if name in _FORWARDED:
            break
    else:
        return  # the common case without a proxy: one look at each header name, nothing copied
    forwarded: dict[bytes, list[str]] = {}
    kept: RawHeaders = []
    for name, value in headers:
        if name in _FORWARDED:
            forwarded.setdefault(name, []).append(value.decode("latin-1"))
        else:
            kept.append((name, value))
    scope["headers"] = kept
    peer = scope.get("client")
    if not peer or not trusts(peer[0]):
        return
    hops = _entries(forwarded.get(b"x-forwarded-for", []))
    chosen = len(hops)  # the index of the client's entry; len(hops): none, the peer itself
    client = None
    for index in range(len(hops) - 1, -1, -1):
        address = _normalized(hops[index])
        if address is None:
            break  # not an address: the hop that wrote it (the last one named) is the furthest we can name
        chosen, client = index, address
        if not trusts(address):
            break
    if client is not None:
        scope["client"] = (client, 0)
    protos = _entries(forwarded.get(b"x-forwarded-proto", []))
    if protos:
        proto = (protos[chosen] if len(protos) == len(hops) and chosen < len(hops) else protos[-1]).lower()
        scheme = _SCHEMES.get(scope["type"], {}).get(proto)
        if scheme is not None:
            scope["scheme"] = scheme
    hosts = _entries(forwarded.get(b"x-forwarded-host", []))
    if hosts:
        host = hosts[chosen] if len(hosts) == len(hops) and chosen < len(hops) else hosts[-1]
        if _HOST.fullmatch(host):
            scope["headers"] = [(n, v) for n, v in kept if n != b"host"] + [(b"host", host.encode("latin-1"))]


class _Trusts:
    """Is an address inside the trusted networks? Remembered per address: peers are a few proxies."""

    def __init__(self, networks: tuple[Network, ...]) -> None:
        self.networks = networks
        self._check = lru_cache(maxsize=4096)(self._inside)

    def _inside(self, text: str) -> bool:
        address = _address(text)
        return address is not None and any(address in network for network in self.networks)

    def __call__(self, text: str) -> bool:
        return bool(self.networks) and self._check(text)


class TrustedProxies:
    """The ASGI step: wraps the whole application, outermost."""

    def __init__(self, app: ASGIApp, networks: tuple[Network, ...]) -> None:
        self.app = app
        self.trusts = _Trusts(networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            rewrite_forwarded(scope, self.trusts)
        await self.app(scope, receive, send)
