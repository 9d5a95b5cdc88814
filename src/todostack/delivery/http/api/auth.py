"""Bearer-token authentication: the only place that reads credentials from a request."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from todostack import context
from todostack.delivery.http.api.request import Handed
from todostack.domain import AuthenticationFailed

__all__ = ["SESSION_COOKIE", "BearerAuthMiddleware", "bearer_token", "presented_token", "same_origin"]


SESSION_COOKIE = "todostack_session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def same_origin(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Did the browser send this from our own page? (CSRF defence for cookie sessions.)"""
    site = connection.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = connection.headers.get("origin")
    if origin is None:
        return False
    # A trusted proxy's X-Forwarded-Host is already the Host here (asgi.proxies); anyone else's is gone.
    host = connection.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def _authorization(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The Authorization header, read off the raw ASGI headers: ``connection.headers`` would
    build a ``Headers`` object of them all (3 µs) for this one."""
    for name, value in headers:
        if name == b"authorization":
            return value.decode("latin-1")
    return None


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; ``None`` for any other form."""
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def presented_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token the caller sent (``Authorization: Bearer`` first, else the session cookie)."""
    header = _authorization(connection.scope["headers"])
    if header:
        return bearer_token(header)
    return connection.cookies.get(SESSION_COOKIE) or None


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Puts the caller's ``Principal`` on the connection, or answers 401.

    API clients send ``Authorization: Bearer <token>``; the web page holds the same token in an
    httpOnly, SameSite=Strict cookie that scripts cannot read. Cookie-authenticated requests that
    change something must also come from our own origin (403 otherwise).
    """

    def __init__(self, app: ASGIApp, handed: Handed) -> None:
        super().__init__(app)
        self.handed = handed

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = _authorization(connection.scope["headers"])
        from_cookie = False
        if header:
            bearer = bearer_token(header)
            if bearer is None:
                raise NotAuthorizedException("the Authorization header must be 'Bearer <token>'")
            token = bearer
        elif SESSION_COOKIE in connection.cookies:
            token, from_cookie = connection.cookies[SESSION_COOKIE], True
        else:
            raise NotAuthorizedException("this endpoint needs a bearer token: Authorization: Bearer <token>")
        try:
            principal = await self.handed.services.auth.principal_for_token(token.strip())
        except AuthenticationFailed as exc:
            raise NotAuthorizedException(exc.detail) from None
        if from_cookie and connection.scope.get("method") not in _SAFE_METHODS and not same_origin(connection):
            raise PermissionDeniedException("cross-site request refused: send it from this site's own page")
        ctx = context.current()
        if ctx is not None:
            ctx.principal = principal
        return AuthenticationResult(user=principal, auth=None)
