"""The HMAC bearer token codec."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes import T0
from todostack.adapters.tokens import HmacTokenCodec

CODEC = HmacTokenCodec("s" * 32)
GOOD = CODEC.issue("user-1", T0 + timedelta(hours=1))


@pytest.mark.parametrize(
    ("token", "user"),
    [
        (GOOD, "user-1"),
        (GOOD[:-2] + ("AA" if not GOOD.endswith("AA") else "BB"), None),
        (GOOD.replace("user-1", "user-2"), None),
        (HmacTokenCodec("other" * 8).issue("user-1", T0 + timedelta(hours=1)), None),
        ("ts1.user-1.notanumber.sig", None),
        ("", None),
        ("a.b.c.d.e", None),
    ],
    ids=["valid", "tampered-signature", "tampered-user", "other-key", "bad-expiry", "empty", "too-many-parts"],
)
def test_verify(token: str, user: str | None) -> None:
    assert CODEC.verify(token, T0) == user


def test_expired_tokens_are_refused() -> None:
    assert CODEC.verify(GOOD, T0 + timedelta(hours=1, seconds=1)) is None
