"""Registration, sign-in (tokens and the page's cookie session), sign-out and passwords."""

from __future__ import annotations

from litestar import Response, delete, get, post, put
from litestar.datastructures import Cookie
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from todostack.delivery.http.api.auth import SESSION_COOKIE, presented_token
from todostack.delivery.http.api.paths import API_PREFIX
from todostack.delivery.http.api.request import ApiRequest
from todostack.delivery.http.api.responses import AUTHED, BODY, problems
from todostack.delivery.http.api.routes.deps import IdempotencyKey
from todostack.delivery.http.api.schemas import (
    PasswordChangeIn,
    RegisterIn,
    SignedOut,
    TokenIn,
    TokenOut,
    UserOut,
)
from todostack.domain import Principal
from todostack.usecases import IssuedToken

__all__ = [
    "change_password",
    "close_session",
    "me",
    "open_session",
    "register",
    "revoke_token",
    "sign_out_everywhere",
    "token",
]

_NO_STORE = {"Cache-Control": "no-store"}


def _client_address(request: ApiRequest) -> str | None:
    """The client's address as the ASGI plumbing settled it (trusted proxies included)."""
    client = request.scope.get("client")
    return client[0] if client else None


def _session_cookie(request: ApiRequest, issued: IssuedToken) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=issued.token,
        max_age=int((issued.expires_at - issued.issued_at).total_seconds()),
        httponly=True,
        samesite="strict",
        # Over TLS only when served over TLS (the scheme a trusted proxy reported counts).
        secure=request.scope.get("scheme") == "https",
        path="/",
    )


def _ended_cookie(request: ApiRequest) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value="",
        max_age=0,
        httponly=True,
        samesite="strict",
        secure=request.scope.get("scheme") == "https",
        path="/",
    )


def _token_out(issued: IssuedToken) -> TokenOut:
    expires_in = int((issued.expires_at - issued.issued_at).total_seconds())
    return TokenOut(issued.token, "Bearer", expires_in, issued.expires_at)


@post(
    "/auth/register",
    status_code=201,
    summary="Create an account",
    description="A taken email gets the same answer as a new one (nothing tells who has an account here); "
    "signing in then tells whether the password was right.",
    responses=problems(*BODY),
    tags=["auth"],
)
async def register(
    data: JSONBody[RegisterIn], request: ApiRequest, idempotency_key: IdempotencyKey = None
) -> Response[UserOut]:
    services = request.services
    created = await services.auth.register(data.email, data.password, idempotency_key)
    headers = {"Location": f"{API_PREFIX}/users/me", **_NO_STORE}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(UserOut.of(created.value), status_code=201, headers=headers)


@post(
    "/auth/token",
    status_code=200,
    summary="Exchange email and password for a bearer token",
    description="Throttled per client address and per account before the password is checked: "
    "past the limits, 429 with `Retry-After`.",
    responses=problems(*BODY, 401, 429),
    tags=["auth"],
)
async def token(data: JSONBody[TokenIn], request: ApiRequest) -> Response[TokenOut]:
    issued = await request.services.auth.authenticate(data.email, data.password, _client_address(request))
    return Response(_token_out(issued), headers=_NO_STORE)


@delete(
    "/auth/token",
    status_code=204,
    summary="Sign out: end the session of the bearer token sent (none, or an ended one: nothing to do)",
    tags=["auth"],
)
async def revoke_token(request: ApiRequest) -> None:
    presented = presented_token(request)
    if presented is not None:
        await request.services.auth.sign_out(presented)


@post(
    "/auth/session",
    status_code=200,
    summary="Sign in for the web page: the token goes into an httpOnly, SameSite=Strict cookie",
    description="Throttled like `POST /auth/token`. The cookie is `Secure` when the page is served over HTTPS.",
    responses=problems(*BODY, 401, 429),
    tags=["auth"],
)
async def open_session(request: ApiRequest, data: JSONBody[TokenIn]) -> Response[UserOut]:
    services = request.services
    issued = await services.auth.authenticate(data.email, data.password, _client_address(request))
    user = await services.auth.current_user(Principal(issued.user_id))
    return Response(UserOut.of(user), cookies=[_session_cookie(request, issued)], headers=_NO_STORE)


@delete(
    "/auth/session",
    status_code=204,
    summary="Sign out of the web page: ends the session and clears the cookie",
    tags=["auth"],
    # The cookie's Secure flag follows the request's scheme, so the answer is built here; this
    # documents it as the empty answer it is.
    responses={204: ResponseSpec(None, description="Signed out; the session cookie is cleared")},
)
async def close_session(request: ApiRequest) -> Response[None]:
    presented = presented_token(request)
    if presented is not None:
        await request.services.auth.sign_out(presented)
    return Response(None, status_code=204, cookies=[_ended_cookie(request)])


@delete(
    "/auth/sessions",
    status_code=200,
    summary="Sign out everywhere: end every session of the signed-in user",
    responses=problems(*AUTHED),
    tags=["auth"],
)
async def sign_out_everywhere(request: ApiRequest) -> Response[SignedOut]:
    ended = await request.services.auth.sign_out_everywhere(request.principal)
    return Response(SignedOut(ended), cookies=[_ended_cookie(request)], headers=_NO_STORE)


@put(
    "/users/me/password",
    status_code=200,
    summary="Change the password: every session ends, and a new one is opened for this client",
    description="Needs the current password (throttled like a sign-in). The answer holds the new token; "
    "a client signed in with the session cookie gets a new cookie too.",
    responses=problems(*AUTHED, *BODY, 403, 429),
    tags=["auth"],
)
async def change_password(data: JSONBody[PasswordChangeIn], request: ApiRequest) -> Response[TokenOut]:
    issued = await request.services.auth.change_password(
        request.principal, data.current_password, data.new_password, _client_address(request)
    )
    cookies = [_session_cookie(request, issued)] if SESSION_COOKIE in request.cookies else []
    return Response(_token_out(issued), cookies=cookies, headers=_NO_STORE)


@get("/users/me", summary="The signed-in user", responses=problems(*AUTHED), tags=["auth"])
async def me(request: ApiRequest) -> UserOut:
    services = request.services
    principal = request.principal
    return UserOut.of(await services.auth.current_user(principal))
