"""The HMAC bearer token codec."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


def test_tokens_issued_before_the_precomputed_hmac_still_verify() -> None:
    # Issued by the codec that called hmac.digest per token (commit ab2ac98), for this secret.
    earlier = "ts1.0192f0e4-5d7c-7a2b-9c1d-3e4f5a6b7c8d.1924992000.IySBAkANQqHiU4XOatRVGZjt2J7HTVRfDWHJF7Utxq0"
    assert CODEC.verify(earlier, T0) == "0192f0e4-5d7c-7a2b-9c1d-3e4f5a6b7c8d"
    assert CODEC.issue("0192f0e4-5d7c-7a2b-9c1d-3e4f5a6b7c8d", datetime(2031, 1, 1, tzinfo=UTC)) == earlier
