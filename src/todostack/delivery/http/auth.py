"""Bearer-token authentication: the only place that reads credentials from a request."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from todostack.delivery.http.services import Services
from todostack.domain import AuthenticationFailed, Principal

__all__ = ["BearerAuthMiddleware", "principal_of"]


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Puts the caller's ``Principal`` on the connection, or answers 401."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        if not header:
            raise NotAuthorizedException("this endpoint needs a bearer token: Authorization: Bearer <token>")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("the Authorization header must be 'Bearer <token>'")
        services: Services = connection.app.state.services
        try:
            principal = services.auth.principal_for_token(token.strip())
        except AuthenticationFailed as exc:
            raise NotAuthorizedException(exc.detail) from None
        return AuthenticationResult(user=principal, auth=None)


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    user = connection.user
    assert isinstance(user, Principal)
    return user
