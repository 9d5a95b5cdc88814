"""Serve the page and its assets: versioned URLs cached for a year, everything else revalidated.

Assets are read once at start-up. Each gets a content hash; HTML and JavaScript refer to each
other through ``?v=<hash>`` URLs, so a changed file is a new URL and browsers may cache the old
one forever.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from litestar import Request, Response, Router, get
from litestar.params import FromPath

__all__ = ["SECURITY_HEADERS", "web_router"]

_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}  # Litestar adds the charset
_IMPORT = re.compile(r'(from\s+"\./)([\w-]+\.js)(")')
_SLOT = re.compile(r"\{\{([\w.-]+)\}\}")
YEAR = 365 * 24 * 3600

# On every HTML answer (see app.py). No inline script anywhere: the page and the API docs load
# their scripts from files.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    digest: str


def _load() -> dict[str, Asset]:
    folder = files("todostack.delivery.web").joinpath("assets")
    sources = {e.name: e.read_text() for e in folder.iterdir() if e.name.endswith((".html", ".css", ".js"))}
    assets: dict[str, Asset] = {}

    def build(name: str) -> Asset:
        if name not in assets:
            text = sources[name]
            if name.endswith(".js"):  # pin imported modules to their versions, depth first
                text = _IMPORT.sub(lambda m: f"{m.group(1)}{m.group(2)}?v={build(m.group(2)).digest}{m.group(3)}", text)
            elif name.endswith(".html"):
                text = _SLOT.sub(lambda m: build(m.group(1)).digest, text)
            body = text.encode()
            assets[name] = Asset(body, _TYPES[name[name.rfind(".") :]], hashlib.sha256(body).hexdigest()[:16])
        return assets[name]

    for name in sources:
        build(name)
    return assets


def _send(request: Request[Any, Any, Any], asset: Asset, *, immutable: bool) -> Response[bytes]:
    etag = f'"{asset.digest}"'
    cache = f"public, max-age={YEAR}, immutable" if immutable else "no-cache"
    headers = {"ETag": etag, "Cache-Control": cache}
    if request.headers.get("if-none-match") == etag:
        return Response(b"", status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.content_type, headers=headers)


def web_router() -> Router:
    assets = _load()
    static = {name: a for name, a in assets.items() if not name.endswith(".html")}

    @get("/", include_in_schema=False)
    async def page(request: Request[Any, Any, Any]) -> Response[bytes]:
        return _send(request, assets["index.html"], immutable=False)

    @get("/api/docs", include_in_schema=False)
    async def docs(request: Request[Any, Any, Any]) -> Response[bytes]:
        return _send(request, assets["docs.html"], immutable=False)

    @get("/static/{name:str}", include_in_schema=False)
    async def asset(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
        found = static.get(name)
        if found is None:
            return Response(b"not found", status_code=404, media_type="text/plain")
        # Versioned URLs never change; unversioned ones must be revalidated.
        return _send(request, found, immutable=request.query_params.get("v") == found.digest)

    return Router("/", route_handlers=[page, docs, asset])
