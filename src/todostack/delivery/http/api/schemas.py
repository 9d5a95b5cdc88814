"""The HTTP API's own types: what clients send and receive. Never domain objects."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from todostack.delivery.http.asgi.problem import FieldProblem, Problem
from todostack.domain import Priority, Todo, TodoList, User
from todostack.domain.lists import NAME_MAX
from todostack.domain.todos import NOTES_MAX, ORDER_MAX, TAG_MAX, TAGS_MAX, TITLE_MAX
from todostack.domain.users import PASSWORD_MAX, PASSWORD_MIN

__all__ = [
    "FieldProblem",
    "ListCreate",
    "ListOut",
    "ListPage",
    "ListPatch",
    "PasswordChangeIn",
    "Problem",
    "RegisterIn",
    "ReorderIn",
    "SignedOut",
    "TodoCreate",
    "TodoOut",
    "TodoPage",
    "TodoPatch",
    "TodoReplace",
    "TokenIn",
    "TokenOut",
    "UserOut",
]

# A title must contain something besides white space: it is trimmed before it is stored.
# White space as str.strip() sees it, spelled out: \s differs between Python and JavaScript
# regexes (U+001C..U+001F, U+0085, U+FEFF), and clients check patterns with the latter.
WHITE_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Something besides white space, and never NUL (U+0000), which PostgreSQL cannot store.
SOME_TEXT = rf"^[^\x00]*[^\x00{WHITE_SPACE}][^\x00]*$"
ANY_TEXT = r"^[^\x00]*$"
Title = Annotated[str, Meta(min_length=1, max_length=TITLE_MAX, pattern=SOME_TEXT, examples=["Buy milk"])]
Notes = Annotated[str, Meta(max_length=NOTES_MAX, pattern=ANY_TEXT)]
Tag = Annotated[str, Meta(min_length=1, max_length=TAG_MAX, pattern=SOME_TEXT)]
Tags = Annotated[list[Tag], Meta(max_length=TAGS_MAX)]
Order = Annotated[int, Meta(ge=-ORDER_MAX, le=ORDER_MAX)]
PriorityName = Literal["none", "low", "medium", "high"]
ListName = Annotated[str, Meta(min_length=1, max_length=NAME_MAX, pattern=SOME_TEXT, examples=["Groceries"])]
EMAIL = rf"^[^@\x00{WHITE_SPACE}]{{1,64}}@[^@\x00{WHITE_SPACE}]{{1,255}}$"
Email = Annotated[str, Meta(min_length=3, max_length=320, pattern=EMAIL, examples=["ada@example.com"])]
# The length rule counts after NFKC normalisation, which the schema cannot: the use case checks it
# (and says why), the description documents it.
Password = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=PASSWORD_MAX,
        pattern=ANY_TEXT,
        description=f"At least {PASSWORD_MIN} characters after Unicode NFKC normalisation, and not one of the "
        "10,000 most common passwords (nor a few characters repeated)",
    ),
]
# What the API sends back: bounds are promises to clients (and what Spectral's OWASP rules ask).
UUID_TEXT = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
Id = Annotated[str, Meta(min_length=36, max_length=36, pattern=UUID_TEXT)]
Version = Annotated[int, Meta(ge=1, le=2**63 - 1)]  # starts at 1, one more per change (a bigint)
# A todo's order as stored: what clients may set (``Order``), or one past the list's highest, which
# may climb past ORDER_MAX after a client set it there; a bigint either way.
OrderOut = Annotated[int, Meta(ge=-ORDER_MAX, le=2**63 - 1)]
TitleOut = Annotated[str, Meta(max_length=TITLE_MAX)]
NotesOut = Annotated[str, Meta(max_length=NOTES_MAX)]
TagsOut = Annotated[list[Annotated[str, Meta(max_length=TAG_MAX)]], Meta(max_length=TAGS_MAX)]
ListNameOut = Annotated[str, Meta(max_length=NAME_MAX)]
Cursor = Annotated[str, Meta(max_length=1000)]  # what ``cursor`` accepts back
TOKEN_MAX = 4096
TOKEN_TTL_MAX = 365 * 24 * 3600  # the most TODOSTACK_TOKEN_TTL_SECONDS allows
# Pages of lists: the default page holds every list an account may have under the default quota
# (``TODOSTACK_QUOTA_LISTS``), so clients written before lists were paged see them all.
LIST_LIMIT_DEFAULT = 500
LIST_LIMIT_MAX = 500
TODO_PAGE_MAX = 200


class RegisterIn(Struct, forbid_unknown_fields=True):
    email: Email
    password: Password


class TokenIn(Struct, forbid_unknown_fields=True):
    email: Annotated[str, Meta(min_length=1, max_length=320, pattern=ANY_TEXT)]
    password: Annotated[str, Meta(min_length=1, max_length=1024, pattern=ANY_TEXT)]


class PasswordChangeIn(Struct, forbid_unknown_fields=True):
    current_password: Annotated[str, Meta(min_length=1, max_length=PASSWORD_MAX, pattern=ANY_TEXT)]
    new_password: Password


class SignedOut(Struct):
    sessions_ended: Annotated[int, Meta(ge=0, le=2**31 - 1)]


class TokenOut(Struct):
    access_token: Annotated[str, Meta(max_length=TOKEN_MAX)]
    token_type: Literal["Bearer"]
    expires_in: Annotated[int, Meta(ge=0, le=TOKEN_TTL_MAX)]
    expires_at: datetime


class UserOut(Struct):
    id: Id
    email: Annotated[str, Meta(max_length=320)]
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(user.id, user.email, user.created_at)


class ListCreate(Struct, forbid_unknown_fields=True):
    name: ListName


class ListPatch(Struct, forbid_unknown_fields=True):
    name: ListName


class ListOut(Struct):
    id: Id
    name: ListNameOut
    created_at: datetime
    updated_at: datetime
    version: Version

    @classmethod
    def of(cls, todo_list: TodoList) -> ListOut:
        return cls(todo_list.id, todo_list.name, todo_list.created_at, todo_list.updated_at, todo_list.version)


class ListPage(Struct):
    items: Annotated[list[ListOut], Meta(max_length=LIST_LIMIT_MAX)]
    next: Cursor | None


class TodoCreate(Struct, forbid_unknown_fields=True):
    title: Title
    list_id: UUID | None = None
    notes: Notes = ""
    completed: bool = False
    due: datetime | None = None
    priority: PriorityName = "none"
    tags: Tags = msgspec.field(default_factory=list)
    order: Order | None = None


class TodoReplace(Struct, forbid_unknown_fields=True):
    """A whole todo (PUT). Read-only fields may be echoed back; they are ignored."""

    title: Title
    list_id: UUID | None = None
    notes: Notes = ""
    completed: bool = False
    due: datetime | None = None
    priority: PriorityName = "none"
    tags: Tags = msgspec.field(default_factory=list)
    order: Order | None = None
    id: Annotated[str, Meta(max_length=36)] | None = None
    completed_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: Version | None = None


class TodoPatch(Struct, forbid_unknown_fields=True):
    title: Title | UnsetType = UNSET
    list_id: UUID | UnsetType = UNSET
    notes: Notes | UnsetType = UNSET
    completed: bool | UnsetType = UNSET
    due: datetime | UnsetType | None = UNSET
    priority: PriorityName | UnsetType = UNSET
    tags: Tags | UnsetType = UNSET
    order: Order | UnsetType = UNSET


REORDER_MAX = 1000


class ReorderIn(Struct, forbid_unknown_fields=True):
    todo_ids: Annotated[list[UUID], Meta(max_length=REORDER_MAX, extra_json_schema={"uniqueItems": True})]


# gc=False: a page builds 50 of these, which never join a reference cycle (strings, datetimes,
# a list of strings), so the garbage collector need not track them.
class TodoOut(Struct, gc=False):
    id: Id
    list_id: Id
    title: TitleOut
    notes: NotesOut
    completed: bool
    completed_at: datetime | None
    due: datetime | None
    priority: PriorityName
    tags: TagsOut
    order: OrderOut
    created_at: datetime
    updated_at: datetime
    version: Version

    @classmethod
    def of(cls, t: Todo) -> TodoOut:
        return cls(
            t.id,
            t.list_id,
            t.title,
            t.notes,
            t.completed,
            t.completed_at,
            t.due,
            t.priority._value_,  # the member's value without the enum's descriptor: 0.4 µs a row
            list(t.tags),
            t.order,
            t.created_at,
            t.updated_at,
            t.version,
        )


class TodoPage(Struct, gc=False):
    items: Annotated[list[TodoOut], Meta(max_length=TODO_PAGE_MAX)]
    next: Cursor | None


def priority_of(name: str) -> Priority:
    return Priority(name)
