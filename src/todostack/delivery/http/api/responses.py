"""OpenAPI descriptions of the error answers each route can give."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from todostack.delivery.http.asgi.problem import PROBLEM_JSON, STATUSES, Problem

__all__ = ["AUTHED", "BODY", "CONDITIONAL", "NOT_MODIFIED", "problems"]

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
            description=STATUSES[code].description,
            generate_examples=False,
        )
    return spec
