"""Search, sort and cursor pagination, on the in-memory adapter (the SQL ones share the contract suite)."""

from __future__ import annotations

import base64
import hmac
import json
from datetime import timedelta

import pytest

from tests.fakes import T0, World
from todostack.domain import Invalid, Principal, Priority
from todostack.usecases import NewTodo, SortField, TodoFilter
from todostack.usecases.queries import Cursor, CursorCodec


@pytest.fixture
async def seeded(world: World, alice: Principal) -> World:
    rows = [
        NewTodo(title="buy milk", due=T0 + timedelta(days=2), priority=Priority.LOW, tags=("shop",)),
        NewTodo(title="write report", notes="Quarterly NUMBERS", priority=Priority.HIGH, completed=True),
        NewTodo(title="call mum", due=T0 + timedelta(days=1), tags=("family", "phone")),
        NewTodo(title="fix bike", priority=Priority.MEDIUM, tags=("shop",)),
    ]
    for cmd in rows:
        await world.todos.create(alice, cmd)
        world.clock.advance(1)
    return world


@pytest.mark.parametrize(
    ("todo_filter", "titles"),
    [
        (TodoFilter(), ["buy milk", "write report", "call mum", "fix bike"]),
        (TodoFilter(completed=True), ["write report"]),
        (TodoFilter(completed=False), ["buy milk", "call mum", "fix bike"]),
        (TodoFilter(tag="shop"), ["buy milk", "fix bike"]),
        (TodoFilter(text="numbers"), ["write report"]),
        (TodoFilter(text="MIL"), ["buy milk"]),
        (TodoFilter(due_before=T0 + timedelta(days=1, hours=1)), ["call mum"]),
        (TodoFilter(due_after=T0 + timedelta(days=1, hours=1)), ["buy milk"]),
        (TodoFilter(tag="shop", completed=False, text="bike"), ["fix bike"]),
    ],
    ids=["all", "completed", "open", "tag", "text-in-notes", "text-case", "due-before", "due-after", "combined"],
)
async def test_filters(seeded: World, alice: Principal, todo_filter: TodoFilter, titles: list[str]) -> None:
    page = await seeded.todos.search(alice, todo_filter)
    assert [t.title for t in page.items] == titles


@pytest.mark.parametrize(
    ("sort", "descending", "titles"),
    [
        (SortField.ORDER, False, ["buy milk", "write report", "call mum", "fix bike"]),
        (SortField.ORDER, True, ["fix bike", "call mum", "write report", "buy milk"]),
        (SortField.DUE, False, ["call mum", "buy milk", "write report", "fix bike"]),
        (SortField.DUE, True, ["fix bike", "write report", "buy milk", "call mum"]),
        (SortField.PRIORITY, True, ["write report", "fix bike", "buy milk", "call mum"]),
        (SortField.CREATED, True, ["fix bike", "call mum", "write report", "buy milk"]),
    ],
    ids=["order", "order-desc", "due-nulls-last", "due-desc-nulls-first", "priority-desc", "created-desc"],
)
async def test_sorts(seeded: World, alice: Principal, sort: SortField, descending: bool, titles: list[str]) -> None:
    page = await seeded.todos.search(alice, TodoFilter(), sort=sort, descending=descending)
    assert [t.title for t in page.items] == titles


@pytest.mark.parametrize("sort", list(SortField), ids=[s.value for s in SortField])
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
async def test_walking_pages_sees_every_todo_once(
    seeded: World, alice: Principal, sort: SortField, descending: bool
) -> None:
    everything = await seeded.todos.search(alice, TodoFilter(), sort=sort, descending=descending, limit=200)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await seeded.todos.search(alice, TodoFilter(), sort=sort, descending=descending, limit=3, cursor=cursor)
        seen.extend(t.id for t in page.items)
        # a todo added mid-walk must not disturb what is left of it
        await seeded.todos.create(alice, NewTodo(title="late", due=T0))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen))
    assert {t.id for t in everything.items} <= set(seen)


KEY = b"cursor-key-for-tests".ljust(32, b"-")
CODEC = CursorCodec(KEY)


def _forged(payload: list[object]) -> str:
    """A cursor with any payload, signed with the codec's key (what only the service can do)."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    signature = hmac.digest(KEY, raw, "sha256")[:16]
    return f"{base64.urlsafe_b64encode(raw).decode().rstrip('=')}.{base64.urlsafe_b64encode(signature).decode()}"


def _unsigned(payload: list[object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("token", "sort", "descending"),
    [
        ("not-base64!", SortField.ORDER, False),
        (CODEC.encode(Cursor(SortField.DUE, False, None, "x")), SortField.ORDER, False),
        (CODEC.encode(Cursor(SortField.ORDER, False, 3, "x")), SortField.ORDER, True),
        (_forged(["order", False, "x", "y"]), SortField.ORDER, False),
        (_forged(["order", False, 2**63, "y"]), SortField.ORDER, False),
        (_forged(["priority", True, -(2**63) - 1, "y"]), SortField.PRIORITY, True),
        (_unsigned(["order", False, 3, "y"]), SortField.ORDER, False),
        (_unsigned(["order", False, 2**63, "y"]), SortField.ORDER, False),
        (CursorCodec.from_secret("another").encode(Cursor(SortField.ORDER, False, 3, "x")), SortField.ORDER, False),
        (CODEC.encode(Cursor(SortField.ORDER, False, 3, "x"))[:-2] + "AA", SortField.ORDER, False),
        ("." * 40, SortField.ORDER, False),
    ],
    ids=[
        "garbage",
        "other-sort",
        "other-direction",
        "wrong-key-type",
        "key-2-to-63",
        "key-below-int64",
        "unsigned",
        "unsigned-key-2-to-63",
        "other-secret",
        "tampered-signature",
        "dots",
    ],
)
def test_bad_cursors_are_invalid(token: str, sort: SortField, descending: bool) -> None:
    with pytest.raises(Invalid) as caught:
        CODEC.decode(token, sort, descending)
    assert caught.value.errors[0].field == "cursor"


def test_a_tampered_cursor_says_so() -> None:
    token = CODEC.encode(Cursor(SortField.ORDER, False, 3, "id-1"))
    signature = token.partition(".")[2]
    altered = _unsigned(["order", False, 4, "id-1"])
    with pytest.raises(Invalid) as caught:
        CODEC.decode(f"{altered}.{signature}", SortField.ORDER, False)
    assert "altered" in caught.value.errors[0].message


@pytest.mark.parametrize(
    "cursor",
    [
        Cursor(SortField.ORDER, False, -5, "id-1"),
        Cursor(SortField.DUE, True, None, "id-2"),
        Cursor(SortField.DUE, False, T0, "id-3"),
        Cursor(SortField.CREATED, False, T0, "id-4"),
        Cursor(SortField.ORDER, False, 2**63 - 1, "id-5"),
    ],
    ids=["int-key", "null-due", "due", "created", "largest-int64"],
)
def test_cursor_round_trip(cursor: Cursor) -> None:
    assert CODEC.decode(CODEC.encode(cursor), cursor.sort, cursor.descending) == cursor
