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
from dataclasses import dataclass, field

from todostack.delivery.http.asgi.types import RawHeaders

__all__ = ["HSTS", "Compression", "accepts_gzip", "add_vary", "encoded", "finish_headers"]

HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")  # two years
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")
_REVALIDATE = (b"cache-control", b"private, no-cache")
_COMPRESSIBLE = (b"application/json", b"application/problem+json", b"text/", b"application/javascript", b"image/svg")


def finish_headers(headers: RawHeaders, https: bool) -> RawHeaders:
    """``headers`` with the headers every answer carries (a route's own values are kept).

    Names are compared as sent: ASGI asks for lower-case header names, and Litestar, the
    ``JsonResponse`` fast path and the decorator all send them so.
    """
    names = {name for name, _ in headers}
    if b"x-content-type-options" not in names:
        headers.append(_NOSNIFF)
    if b"cache-control" not in names:
        headers.append(_REVALIDATE if b"etag" in names else _NO_STORE)
    if https:
        headers.append(HSTS)
    return headers


def add_vary(headers: RawHeaders, names: bytes) -> RawHeaders:
    """``headers`` whose ``Vary`` also names ``names`` (comma-separated): one header, no repeats."""
    for i, (name, value) in enumerate(headers):
        if name == b"vary":
            present = {v.strip().lower() for v in value.split(b",")}
            extra = [n.strip() for n in names.split(b",") if n.strip().lower() not in present]
            if extra:
                headers[i] = (name, b", ".join([value, *extra]))
            return headers
    headers.append((b"vary", names))
    return headers


def accepts_gzip(accept_encoding: bytes) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip;q=0`` refuses it; ``*`` allows)."""
    value = accept_encoding.lower()
    if b"gzip" not in value and b"*" not in value:
        return False
    if b";" not in value:  # no weights: what browsers send
        codings = value.replace(b" ", b"").split(b",")
        return b"gzip" in codings or b"x-gzip" in codings or b"*" in codings
    allowed = False
    for part in value.split(b","):
        coding, _, params = part.partition(b";")
        coding = coding.strip()
        if coding not in (b"gzip", b"x-gzip", b"*"):
            continue
        refused = _weight(params) == 0
        if coding != b"*":
            return not refused
        allowed = not refused
    return allowed


def _weight(params: bytes) -> float:
    """The ``q`` of one coding (RFC 9110 §12.4.2); 1 when absent, 0 when unreadable."""
    for param in params.split(b";"):
        key, _, value = param.partition(b"=")
        if key.strip() == b"q":
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
    # The last body compressed and its gzip: a route that answers with the same bytes object each
    # time (the ~200 KB /api/openapi.json, built once) is compressed once. bytes cannot change and
    # the one kept stays alive, so ``is`` cannot match another body.
    _last: list[tuple[bytes, bytes]] = field(default_factory=list, compare=False, repr=False)

    def eligible(self, status: int, headers: RawHeaders) -> bool:
        """Could this answer be compressed (its type, size and encoding allow it)?"""
        if self.min_bytes <= 0 or status < 200 or status in (204, 206, 304):
            return False
        media = b""
        for name, value in headers:
            if name == b"content-type":
                media = value
            elif name == b"content-length":
                if int(value or b"0") < self.min_bytes:
                    return False
            elif name == b"content-encoding":
                return False
        if media.startswith(_COMPRESSIBLE):
            return not media.startswith(b"text/event-stream")
        return media.partition(b";")[0].rstrip().endswith(b"+json")

    def compress(self, body: bytes) -> bytes:
        last = self._last
        if last and last[0][0] is body:
            return last[0][1]
        # A gzip member (RFC 1952) from zlib directly: gzip.compress adds a BytesIO and a header writer.
        packer = zlib.compressobj(self.level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        packed = packer.compress(body) + packer.flush()
        last[:] = [(body, packed)]
        return packed


def encoded(headers: RawHeaders, length: int) -> RawHeaders:
    """``headers`` for a gzip body of ``length`` bytes."""
    out = [(n, v) for n, v in headers if n != b"content-length"]
    out.append((b"content-encoding", b"gzip"))
    out.append((b"content-length", str(length).encode()))
    return out
