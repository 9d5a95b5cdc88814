"""Todo lists: create, read, rename, delete, and the bulk actions on their todos."""

from __future__ import annotations

from todostack.domain import (
    FieldError,
    Invalid,
    NotFound,
    Principal,
    TodoList,
)
from todostack.domain.lists import normalize_list_name
from todostack.usecases.commands import NewList, VersionCheck
from todostack.usecases.idempotency import Created, fingerprint, present, run_idempotent
from todostack.usecases.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory

__all__ = ["ListService", "get_list"]


async def get_list(uow: UnitOfWork, principal: Principal, list_id: str, *, for_update: bool = False) -> TodoList:
    found = await uow.lists.get(principal.user_id, list_id, for_update=for_update)
    if found is None:
        raise NotFound(f"list {list_id} not found")
    return found


class ListService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids

    async def create(self, principal: Principal, cmd: NewList, idempotency_key: str | None = None) -> Created[TodoList]:
        errors: list[FieldError] = []
        name = normalize_list_name(cmd.name, errors)
        if errors:
            raise Invalid(errors)
        now = self._clock()
        async with self._uow(write=True) as uow:

            async def create() -> TodoList:
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

    async def rename(self, principal: Principal, list_id: str, name: str, expected: VersionCheck = None) -> TodoList:
        errors: list[FieldError] = []
        name = normalize_list_name(name, errors)
        if errors:
            raise Invalid(errors)
        async with self._uow(write=True) as uow:
            current = await get_list(uow, principal, list_id, for_update=True)
            current.check_version(expected)
            if current.name == name:
                return current
            updated = current.renamed(name, self._clock())
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
