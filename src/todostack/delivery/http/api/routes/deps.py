"""Header parameters shared by the route handlers (their services and caller: ``request``)."""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter

__all__ = ["IdempotencyKey", "IfMatch", "IfNoneMatch"]

# A few dozen ETags (``"12"``, ``W/"12"``) in one If-Match: far more than any client sends.
ETAGS_MAX = 1024

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Retrying with the same key returns the original result instead of creating again.",
        required=False,
    ),
]
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        description="Apply only if the ETag still matches (else 412).",
        max_length=ETAGS_MAX,
        required=False,
    ),
]
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        description="Answer 304 if the ETag still matches.",
        max_length=ETAGS_MAX,
        required=False,
    ),
]
