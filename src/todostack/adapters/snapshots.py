"""Stored copies of created resources, for replaying idempotent requests."""

from __future__ import annotations

import msgspec

from todostack.domain import Todo, TodoList, User
from todostack.usecases.ports import Snapshot

__all__ = ["decode_snapshot", "encode_snapshot"]

_KINDS: dict[str, type[Todo | TodoList | User]] = {"todo": Todo, "list": TodoList, "user": User}
_NAMES = {cls: name for name, cls in _KINDS.items()}


def encode_snapshot(snapshot: Snapshot) -> tuple[str, str]:
    return _NAMES[type(snapshot)], msgspec.json.encode(snapshot).decode()


def decode_snapshot(kind: str | None, data: str | None) -> Snapshot | None:
    if kind is None or data is None:
        return None
    return msgspec.json.decode(data, type=_KINDS[kind])
