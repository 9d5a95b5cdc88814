"""Search, sort and cursor pagination of todos."""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from todostack.domain import FieldError, Invalid, Todo

__all__ = [
    "LIMIT_DEFAULT",
    "LIMIT_MAX",
    "Cursor",
    "CursorCodec",
    "Page",
    "SortField",
    "SortKey",
    "TodoFilter",
    "TodoQuery",
    "sort_key",
]

LIMIT_DEFAULT = 50
LIMIT_MAX = 200

SortKey = int | datetime | None


class SortField(enum.Enum):
    ORDER = "order"
    DUE = "due"
    CREATED = "created"
    PRIORITY = "priority"


@dataclass(frozen=True, slots=True)
class Cursor:
    """Position after the last todo of a page: its sort key and id (the tie-breaker)."""

    sort: SortField
    descending: bool
    key: SortKey
    id: str


@dataclass(frozen=True, slots=True)
class TodoFilter:
    list_id: str | None = None
    completed: bool | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    tag: str | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class TodoQuery:
    owner_id: str
    filter: TodoFilter
    sort: SortField
    descending: bool
    limit: int
    after: Cursor | None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Todo]
    next_cursor: str | None


def sort_key(todo: Todo, field: SortField) -> SortKey:
    """The value a todo sorts by. ``None`` (no due date) sorts after every date."""
    if field is SortField.ORDER:
        return todo.order
    if field is SortField.PRIORITY:
        return todo.priority.rank
    if field is SortField.CREATED:
        return todo.created_at
    return todo.due


# One encoder: json.dumps with separators builds a JSONEncoder per call (4.2 µs a cursor).
_CURSOR_JSON = json.JSONEncoder(separators=(",", ":"))
# Sort keys are stored as 64-bit integers; anything beyond cannot be a real position.
_INT64 = range(-(2**63), 2**63)
_SIGNATURE_BYTES = 16  # HMAC-SHA256 cut to 128 bits: forging one is still out of reach


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _bad_cursor() -> Invalid:
    return Invalid([FieldError("cursor", "is not a cursor returned by this API")])


class CursorCodec:
    """Cursors as ``<base64url JSON>.<base64url HMAC-SHA256>``: opaque to clients and signed.

    A cursor carries a sort key that goes into SQL; signing means only cursors this service
    made (with the same key: every worker and pod derives it from the service's secret) are
    ever decoded, and anything altered is refused as a whole.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_secret(cls, secret: str) -> CursorCodec:
        """A codec keyed from the service's secret, apart from the token key."""
        return cls(hashlib.sha256(b"todostack-cursor:" + secret.encode()).digest())

    @classmethod
    def ephemeral(cls) -> CursorCodec:
        """A codec with a random key: cursors valid only in this process (tests, tools)."""
        return cls(secrets.token_bytes(32))

    def _sign(self, payload: bytes) -> bytes:
        return hmac.digest(self._key, payload, "sha256")[:_SIGNATURE_BYTES]

    def seal(self, raw: bytes) -> str:
        """``raw`` as an opaque, signed cursor (todo pages here; list pages use it too)."""
        return f"{_b64(raw)}.{_b64(self._sign(raw))}"

    def unseal(self, token: str) -> bytes:
        """What ``seal`` sealed; ``Invalid`` for a cursor altered or not signed with this key."""
        payload, _, signature = token.partition(".")
        try:
            raw = _unb64(payload)
            valid = hmac.compare_digest(self._sign(raw), _unb64(signature))
        except (binascii.Error, ValueError):
            raise _bad_cursor() from None
        if not valid:
            raise Invalid([FieldError("cursor", "was altered or not issued by this service; start again without it")])
        return raw

    def encode(self, cursor: Cursor) -> str:
        key: int | str | None
        key = cursor.key.isoformat() if isinstance(cursor.key, datetime) else cursor.key
        return self.seal(_CURSOR_JSON.encode([cursor.sort.value, cursor.descending, key, cursor.id]).encode())

    def decode(self, token: str, sort: SortField, descending: bool) -> Cursor:
        """Decode a cursor; it must be signed here and come from a query with the same sort."""
        raw = self.unseal(token)
        try:
            sort_name, desc, key, todo_id = json.loads(raw)
            cursor_sort = SortField(sort_name)
        except (ValueError, TypeError):
            raise _bad_cursor() from None
        if cursor_sort is not sort or desc is not descending:
            raise Invalid([FieldError("cursor", "was made for a different sort; start again without it")])
        if not isinstance(todo_id, str):
            raise _bad_cursor()
        return Cursor(sort, descending, _decode_key(sort, key), todo_id)


def _decode_key(sort: SortField, key: object) -> SortKey:
    if sort in (SortField.ORDER, SortField.PRIORITY):
        if isinstance(key, int) and not isinstance(key, bool) and key in _INT64:
            return key
        raise _bad_cursor()
    if key is None and sort is SortField.DUE:
        return None
    if isinstance(key, str):
        try:
            value = datetime.fromisoformat(key)
        except ValueError:
            raise _bad_cursor() from None
        if value.tzinfo is not None:
            return value
    raise _bad_cursor()
