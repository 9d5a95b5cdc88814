"""Users and the principal that acts on their behalf."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from todostack.domain.errors import FieldError
from todostack.domain.text import check_text

__all__ = ["Principal", "User", "normalize_email", "validate_password"]

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
PASSWORD_MIN = 8
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


def normalize_email(raw: str, errors: list[FieldError]) -> str:
    email = raw.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320 or "\x00" in email:
        errors.append(FieldError("email", "must be an email address like name@example.com"))
    return email


def validate_password(password: str, errors: list[FieldError]) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        errors.append(FieldError("password", f"must be between {PASSWORD_MIN} and {PASSWORD_MAX} characters"))
    check_text("password", password, errors)
