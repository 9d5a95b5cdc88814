"""Registration, tokens and the current user."""

from __future__ import annotations

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from todostack.delivery.http.responses import AUTHED, BODY, problems
from todostack.delivery.http.routes.deps import IdempotencyKey
from todostack.delivery.http.schemas import RegisterIn, TokenIn, TokenOut, UserOut
from todostack.delivery.http.services import Services
from todostack.domain import Principal

__all__ = ["me", "register", "token"]


@post(
    "/auth/register",
    status_code=201,
    summary="Create an account",
    responses=problems(*BODY, 409),
    tags=["auth"],
)
async def register(
    data: JSONBody[RegisterIn], services: NamedDependency[Services], idempotency_key: IdempotencyKey = None
) -> Response[UserOut]:
    created = await services.auth.register(data.email, data.password, idempotency_key)
    headers = {"Location": "/api/v1/users/me"}
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
async def token(data: JSONBody[TokenIn], services: NamedDependency[Services]) -> TokenOut:
    issued = await services.auth.authenticate(data.email, data.password)
    expires_in = int((issued.expires_at - issued.expires_at.now(issued.expires_at.tzinfo)).total_seconds())
    return TokenOut(issued.token, "Bearer", max(expires_in, 0), issued.expires_at)


@get("/users/me", summary="The signed-in user", responses=problems(*AUTHED), tags=["auth"])
async def me(principal: NamedDependency[Principal], services: NamedDependency[Services]) -> UserOut:
    return UserOut.of(await services.auth.current_user(principal))
