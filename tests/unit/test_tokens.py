"""The HMAC bearer token codec."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes import T0
from todostack.adapters.tokens import HmacTokenCodec
from todostack.usecases.ports import TokenClaims

CODEC = HmacTokenCodec("s" * 32, timedelta(hours=1))
START = int(T0.timestamp())
CLAIMS = TokenClaims("user-1", "session-1", START, START + 3600)
GOOD = CODEC.issue(CLAIMS)


@pytest.mark.parametrize(
    ("token", "claims"),
    [
        (GOOD, CLAIMS),
        (GOOD[:-2] + ("AA" if not GOOD.endswith("AA") else "BB"), None),
        (GOOD.replace("user-1", "user-2"), None),
        (GOOD.replace("session-1", "session-2"), None),
        (HmacTokenCodec("other" * 8).issue(CLAIMS), None),
        ("ts2.user-1.s.1.notanumber.sig", None),
        ("ts1.user-1.1924992000.IySBAkANQqHiU4XOatRVGZjt2J7HTVRfDWHJF7Utxq0", None),
        ("", None),
        ("a.b.c.d.e.f.g", None),
    ],
    ids=[
        "valid",
        "tampered-signature",
        "tampered-user",
        "tampered-session",
        "other-key",
        "bad-expiry",
        "old-format",
        "empty",
        "too-many-parts",
    ],
)
def test_verify(token: str, claims: TokenClaims | None) -> None:
    assert CODEC.verify(token, T0) == claims


def test_expired_tokens_are_refused() -> None:
    assert CODEC.verify(GOOD, T0 + timedelta(hours=1, seconds=1)) is None


def test_expiry_is_capped_at_issue_time_plus_the_lifetime() -> None:
    # A token (signed with the right key) that claims a year: believed for the hour configured.
    long = CODEC.issue(TokenClaims("user-1", "session-1", START, START + 365 * 24 * 3600))
    assert CODEC.verify(long, T0 + timedelta(minutes=59)) is not None
    assert CODEC.verify(long, T0 + timedelta(hours=1)) is None


def test_no_key_no_codec() -> None:
    with pytest.raises(ValueError, match="secret"):
        HmacTokenCodec("")


def test_digests_are_keyed() -> None:
    assert CODEC.digest("pw") == HmacTokenCodec("s" * 32).digest("pw")
    assert CODEC.digest("pw") != HmacTokenCodec("t" * 32).digest("pw")
    assert "pw" not in CODEC.digest("pw")
