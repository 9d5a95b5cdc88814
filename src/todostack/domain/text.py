"""Rules every stored text obeys."""

from __future__ import annotations

from todostack.domain.errors import FieldError

__all__ = ["text_errors"]


def text_errors(field: str, value: str) -> list[FieldError]:
    """Text never holds NUL (U+0000): PostgreSQL cannot store it, and no person types it."""
    if "\x00" in value:
        return [FieldError(field, "must not contain the NUL character (U+0000)")]
    return []
