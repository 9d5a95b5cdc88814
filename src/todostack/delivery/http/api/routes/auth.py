"""Registration, tokens and the current user."""

from __future__ import annotations

from litestar import Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.params import JSONBody

from todostack.delivery.http.api.auth import SESSION_COOKIE
from todostack.delivery.http.api.paths import API_PREFIX
from todostack.delivery.http.api.request import ApiRequest
from todostack.delivery.http.api.responses import AUTHED, BODY, problems
from todostack.delivery.http.api.routes.deps import IdempotencyKey
from todostack.delivery.http.api.schemas import RegisterIn, TokenIn, TokenOut, UserOut
from todostack.domain import Principal

__all__ = ["close_session", "me", "open_session", "register", "token"]


@post(
    "/auth/register",
    status_code=201,
    summary="Create an account",
    responses=problems(*BODY, 409),
    tags=["auth"],
)
async def register(
    data: JSONBody[RegisterIn], request: ApiRequest, idempotency_key: IdempotencyKey = None
) -> Response[UserOut]:
    services = request.services
    created = await services.auth.register(data.email, data.password, idempotency_key)
    headers = {"Location": f"{API_PREFIX}/users/me"}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(UserOut.of(created.value), status_code=201, headers=headers)


@post(
    "/auth/token",
    status_code=200,
    summary="Exchange email and password for a bearer token",
    responses=problems(*BODY, 401),
    tags=["auth"],
)
async def token(data: JSONBody[TokenIn], request: ApiRequest) -> TokenOut:
    services = request.services
    issued = await services.auth.authenticate(data.email, data.password)
    expires_in = int((issued.expires_at - issued.issued_at).total_seconds())
    return TokenOut(issued.token, "Bearer", expires_in, issued.expires_at)


@post(
    "/auth/session",
    status_code=200,
    summary="Sign in for the web page: the token goes into an httpOnly, SameSite=Strict cookie",
    responses=problems(*BODY, 401),
    tags=["auth"],
)
async def open_session(request: ApiRequest, data: JSONBody[TokenIn]) -> Response[UserOut]:
    services = request.services
    issued = await services.auth.authenticate(data.email, data.password)
    user = await services.auth.current_user(Principal(issued.user_id))
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").startswith("https")
    max_age = int((issued.expires_at - issued.issued_at).total_seconds())
    cookie = Cookie(
        key=SESSION_COOKIE,
        value=issued.token,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    return Response(UserOut.of(user), cookies=[cookie], headers={"Cache-Control": "no-store"})


@delete(
    "/auth/session",
    status_code=204,
    summary="Sign out of the web page",
    tags=["auth"],
    response_cookies=[Cookie(key=SESSION_COOKIE, value="", max_age=0, httponly=True, samesite="strict", path="/")],
)
async def close_session() -> None:
    return None


@get("/users/me", summary="The signed-in user", responses=problems(*AUTHED), tags=["auth"])
async def me(request: ApiRequest) -> UserOut:
    services = request.services
    principal = request.principal
    return UserOut.of(await services.auth.current_user(principal))
