"""What every answer carries, whatever route made it: security and caching headers, and gzip.

* ``X-Content-Type-Options: nosniff`` on every answer (a browser must not guess a JSON
  answer into HTML or script);
* a ``Cache-Control`` when the route gave none: ``private, no-cache`` with an ``ETag`` (a
  browser may keep it and revalidate with ``If-None-Match``; shared caches may not), otherwise
  ``no-store``: answers carry one person's data and no proxy may keep them;
* ``Strict-Transport-Security`` when the request came over TLS (``scope["scheme"]``, set by
  the trusted-proxy step when TLS ends at the edge);
* gzip for compressible answers of at least ``Compression.min_bytes`` when the client accepts
  it, with ``Vary: Accept-Encoding`` on every answer that could have been compressed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from todostack.delivery.http.asgi.types import RawHeaders

__all__ = ["HSTS", "Compression", "accepts_gzip", "add_vary", "encoded", "finish_headers"]

HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")  # two years
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")
_REVALIDATE = (b"cache-control", b"private, no-cache")
_COMPRESSIBLE = (b"application/json", b"application/problem+json", b"text/", b"application/javascript", b"image/svg")


def finish_headers(headers: RawHeaders, https: bool) -> RawHeaders:
    """``headers`` with the headers every answer carries (a route's own values are kept)."""
    has_nosniff = has_cache = has_etag = False
    for raw_name, _ in headers:
        name = raw_name.lower()
        if name == b"x-content-type-options":
            has_nosniff = True
        elif name == b"cache-control":
            has_cache = True
        elif name == b"etag":
            has_etag = True
    if not has_nosniff:
        headers.append(_NOSNIFF)
    if not has_cache:
        headers.append(_REVALIDATE if has_etag else _NO_STORE)
    if https:
        headers.append(HSTS)
    return headers


def add_vary(headers: RawHeaders, *names: bytes) -> RawHeaders:
    """``headers`` whose ``Vary`` also names ``names`` (one ``Vary`` header, no repeats)."""
    for i, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            present = {v.strip().lower() for v in value.split(b",")}
            extra = [n for n in names if n.lower() not in present]
            if extra:
                headers[i] = (name, b", ".join([value, *extra]))
            return headers
    headers.append((b"vary", b", ".join(names)))
    return headers


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip;q=0`` refuses it; ``*`` allows)."""
    allowed = False
    for part in accept_encoding.split(","):
        coding, _, params = part.partition(";")
        coding = coding.strip().lower()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        refused = _weight(params) == 0
        if coding in ("gzip", "x-gzip"):
            return not refused
        allowed = not refused
    return allowed


def _weight(params: str) -> float:
    """The ``q`` of one coding (RFC 9110 §12.4.2); 1 when absent, 0 when unreadable."""
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


@dataclass(frozen=True, slots=True)
class Compression:
    """gzip for answers of at least ``min_bytes`` (0: never). Level 1: see docs/benchmarks.md."""

    min_bytes: int = 1024
    level: int = 1

    def eligible(self, status: int, headers: RawHeaders) -> bool:
        """Could this answer be compressed (its type, size and encoding allow it)?"""
        if self.min_bytes <= 0 or status < 200 or status in (204, 206, 304):
            return False
        compressible = False
        for raw_name, value in headers:
            name = raw_name.lower()
            if name == b"content-encoding":
                return False
            if name == b"content-length" and int(value or b"0") < self.min_bytes:
                return False
            if name == b"content-type":
                media = value.partition(b";")[0].strip().lower()
                compressible = media.startswith(_COMPRESSIBLE) or media.endswith(b"+json")
                compressible = compressible and media != b"text/event-stream"
        return compressible

    def compress(self, body: bytes) -> bytes:
        # A gzip member (RFC 1952) from zlib directly: gzip.compress adds a BytesIO and a header writer.
        packer = zlib.compressobj(self.level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return packer.compress(body) + packer.flush()


def encoded(headers: RawHeaders, length: int) -> RawHeaders:
    """``headers`` for a gzip body of ``length`` bytes."""
    out = [(n, v) for n, v in headers if n.lower() != b"content-length"]
    out.append((b"content-encoding", b"gzip"))
    out.append((b"content-length", str(length).encode()))
    return out
