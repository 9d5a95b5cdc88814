"""Todo lists: create, read, rename, delete, and the bulk actions on their todos."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from todostack.domain import (
    FieldError,
    Invalid,
    NotFound,
    Principal,
    TodoList,
)
from todostack.domain.lists import list_name_errors, normalize_list_name
from todostack.usecases.commands import NewList, VersionCheck
from todostack.usecases.idempotency import Created, fingerprint, present, run_idempotent
from todostack.usecases.ports import Clock, IdGenerator, ListPosition, UnitOfWork, UnitOfWorkFactory
from todostack.usecases.queries import CursorCodec
from todostack.usecases.quotas import Quotas, check_lists

__all__ = ["ListPage", "ListService", "decode_list_cursor", "encode_list_cursor", "get_list"]

_ID_MAX = 36


async def get_list(uow: UnitOfWork, principal: Principal, list_id: str, *, for_update: bool = False) -> TodoList:
    found = await uow.lists.get(principal.user_id, list_id, for_update=for_update)
    if found is None:
        raise NotFound(f"list {list_id} not found")
    return found


def _valid_name(raw: str) -> str:
    name = normalize_list_name(raw)
    errors = list_name_errors(name)
    if errors:
        raise Invalid(errors)
    return name


@dataclass(frozen=True, slots=True)
class ListPage:
    items: list[TodoList]
    next_cursor: str | None


def encode_list_cursor(position: ListPosition, codec: CursorCodec) -> str:
    """A signed cursor for the page after ``position`` (signed as todo cursors are: ``CursorCodec``)."""
    return codec.seal(json.dumps(["list", position[0].isoformat(), position[1]], separators=(",", ":")).encode())


def decode_list_cursor(token: str, codec: CursorCodec) -> ListPosition:
    """The position a cursor of ``encode_list_cursor`` holds; ``Invalid`` for anything else."""
    bad = Invalid([FieldError("cursor", "is not a cursor returned by this API")])
    raw = codec.unseal(token)
    try:
        kind, created, list_id = json.loads(raw)
        at = datetime.fromisoformat(created)
    except (ValueError, TypeError):
        raise bad from None
    if kind != "list":
        raise Invalid([FieldError("cursor", "was made for another listing; start again without it")])
    if at.tzinfo is None or not isinstance(list_id, str) or len(list_id) > _ID_MAX:
        raise bad
    return at, list_id


class ListService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        quotas: Quotas | None = None,
        *,
        cursors: CursorCodec | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._quotas = quotas or Quotas()
        # Every worker and pod must share the key (bootstrap derives it from the secret).
        self._cursors = cursors if cursors is not None else CursorCodec.ephemeral()

    async def create(self, principal: Principal, cmd: NewList, idempotency_key: str | None = None) -> Created[TodoList]:
        name = _valid_name(cmd.name)
        now = self._clock()
        async with self._uow(write=True) as uow:

            async def create() -> TodoList:
                await check_lists(uow, self._quotas, principal.user_id)
                todo_list = TodoList(self._ids(), principal.user_id, name, now, now)
                await uow.lists.add(todo_list)
                return todo_list

            return await run_idempotent(
                uow,
                scope=principal.user_id,
                key=idempotency_key,
                digest=fingerprint("list", cmd),
                now=now,
                result_type=TodoList,
                create=create,
                exists=lambda lst: present(uow.lists.get(principal.user_id, lst.id)),
            )

    async def get(self, principal: Principal, list_id: str) -> TodoList:
        async with self._uow() as uow:
            return await get_list(uow, principal, list_id)

    async def all(self, principal: Principal) -> list[TodoList]:
        async with self._uow() as uow:
            return await uow.lists.list_for_owner(principal.user_id)

    async def page(self, principal: Principal, *, limit: int, cursor: str | None = None) -> ListPage:
        """One page of the caller's lists, oldest first; ``next_cursor`` continues after it."""
        if limit < 1:
            raise Invalid([FieldError("limit", "must be at least 1")])
        after = decode_list_cursor(cursor, self._cursors) if cursor else None
        async with self._uow() as uow:
            rows = await uow.lists.page_for_owner(principal.user_id, after, limit + 1)
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_list_cursor((last.created_at, last.id), self._cursors)
        return ListPage(items, next_cursor)

    async def rename(self, principal: Principal, list_id: str, name: str, expected: VersionCheck = None) -> TodoList:
        name = _valid_name(name)
        async with self._uow(write=True) as uow:
            current = await get_list(uow, principal, list_id, for_update=True)
            current.check_version(expected)
            updated = current.renamed(name, self._clock())
            if updated is None:
                return current
            await uow.lists.update(updated)
            await uow.commit()
            return updated

    async def delete(self, principal: Principal, list_id: str, expected: VersionCheck = None) -> None:
        async with self._uow(write=True) as uow:
            current = await get_list(uow, principal, list_id, for_update=True)
            current.check_version(expected)
            await uow.lists.delete(principal.user_id, list_id)
            await uow.commit()

    async def complete_all(self, principal: Principal, list_id: str) -> int:
        async with self._uow(write=True) as uow:
            await get_list(uow, principal, list_id, for_update=True)
            changed = await uow.todos.complete_all(principal.user_id, list_id, self._clock())
            await uow.commit()
            return changed

    async def clear_completed(self, principal: Principal, list_id: str) -> int:
        async with self._uow(write=True) as uow:
            await get_list(uow, principal, list_id, for_update=True)
            removed = await uow.todos.clear_completed(principal.user_id, list_id)
            await uow.commit()
            return removed
