"""Users and the principal that acts on their behalf."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime

from todostack.domain.errors import FieldError
from todostack.domain.text import text_errors

__all__ = [
    "PASSWORD_MAX",
    "PASSWORD_MIN",
    "Principal",
    "User",
    "email_errors",
    "normalize_email",
    "normalize_password",
    "password_errors",
]

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
# NIST SP 800-63B asks for 8 at least; 12 is OWASP ASVS 5's minimum for a password alone.
PASSWORD_MIN = 12
PASSWORD_MAX = 1024


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    password_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: the only identity use cases trust."""

    user_id: str


def normalize_email(raw: str) -> str:
    return raw.strip().lower()


def email_errors(email: str) -> list[FieldError]:
    """What is wrong with a (normalized) email address; empty when nothing is."""
    if not _EMAIL.match(email) or len(email) > 320 or "\x00" in email:
        return [FieldError("email", "must be an email address like name@example.com")]
    return []


def normalize_password(password: str) -> str:
    """NFKC (Unicode's compatibility composition): the same password typed on two keyboards,
    or pasted from two apps, is the same string, and its length counts what people see."""
    return unicodedata.normalize("NFKC", password)


def _repeats_a_short_unit(text: str) -> bool:
    """``aaaaaaaaaaaa``, ``abcabcabcabc``, twelve spaces: one to four characters over and over."""
    return any(len(text) % n == 0 and text == text[:n] * (len(text) // n) for n in range(1, 5))


def password_errors(password: str, common: Container[str] = frozenset()) -> list[FieldError]:
    """What is wrong with a new password (already normalised): too short or too long, a well-known
    one, NUL in it; empty when nothing is.

    ``common`` holds well-known passwords in lower case; a password that is one of them, or one
    of them written twice, is refused whatever its case.
    """
    errors = text_errors("password", password)
    if len(password) < PASSWORD_MIN:
        return [
            *errors,
            FieldError("password", f"must be at least {PASSWORD_MIN} characters (counted after Unicode normalisation)"),
        ]
    if len(password) > PASSWORD_MAX:
        return [*errors, FieldError("password", f"must be at most {PASSWORD_MAX} characters")]
    folded = password.casefold()
    half = len(folded) // 2
    if folded in common or (folded[:half] == folded[half:] and folded[:half] in common):
        errors.append(
            FieldError(
                "password",
                "is one of the 10,000 most common passwords, which attackers try first; "
                "choose another (a few unrelated words make a good one)",
            )
        )
    elif _repeats_a_short_unit(folded) or not folded.strip():
        errors.append(FieldError("password", "is a few characters repeated, which attackers try first; choose another"))
    return errors
