"""OpenAPI descriptions of the error answers each route can give."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from todostack.delivery.http.problems import PROBLEM_JSON
from todostack.delivery.http.schemas import Problem

__all__ = ["AUTHED", "BODY", "CONDITIONAL", "NOT_MODIFIED", "problems"]

_DESCRIPTIONS = {
    400: "Malformed request (for example a body that is not JSON)",
    401: "Missing, invalid or expired bearer token",
    404: "No such resource, or it belongs to someone else",
    409: "Conflicts with the current state",
    412: "If-Match did not match the current ETag",
    413: "Request body over 1 MiB",
    415: "Body is not application/json",
    422: "Validation failed; `errors` lists every bad field",
    503: "Not ready to serve",
}

AUTHED = (400, 401, 422)
BODY = (400, 413, 415, 422)
CONDITIONAL = (404, 412)


NOT_MODIFIED = 304


def problems(*codes: int) -> dict[int, ResponseSpec]:
    spec: dict[int, ResponseSpec] = {}
    for code in sorted(set(codes)):
        if code == NOT_MODIFIED:
            spec[code] = ResponseSpec(None, description="Not Modified: If-None-Match named the current ETag")
            continue
        spec[code] = ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=_DESCRIPTIONS[code],
            generate_examples=False,
        )
    return spec
