"""Rules every stored text obeys."""

from __future__ import annotations

from todostack.domain.errors import FieldError

__all__ = ["check_text"]


def check_text(field: str, value: str, errors: list[FieldError]) -> None:
    """Text never holds NUL (U+0000): PostgreSQL cannot store it, and no person types it."""
    if "\x00" in value:
        errors.append(FieldError(field, "must not contain the NUL character (U+0000)"))
