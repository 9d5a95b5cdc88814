"""ETags and conditional requests (RFC 9110 §13) for versioned resources."""

from __future__ import annotations

import re
import uuid

from todostack.domain import NotFound
from todostack.usecases import VersionCheck

__all__ = ["etag", "not_modified", "parse_id", "parse_if_match"]

_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*(?:,|$)')


def etag(version: int) -> str:
    return f'"{version}"'


def _tags(header: str) -> list[str]:
    return [m.group(1) for m in _TAG.finditer(header)]


def parse_if_match(header: str | None) -> VersionCheck:
    """``None`` when absent or ``*``; else the versions the client accepts (maybe none)."""
    if header is None or header.strip() == "*":
        return None
    return frozenset(int(tag) for tag in _tags(header) if tag.isdigit() and len(tag) < 12)


def not_modified(if_none_match: str | None, version: int) -> bool:
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    return str(version) in _tags(if_none_match)


def parse_id(value: str, what: str) -> str:
    """Ids are UUIDs; anything else names nothing, so it is answered like a missing id."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(f"{what} {value} not found") from None
