"""The public Todo-Backend demo list (todobackend.com): one shared list, no sign-in."""

from __future__ import annotations

from todostack.domain import Conflict, Principal, Todo, TodoList, User
from todostack.usecases.commands import NewTodo, TodoChanges
from todostack.usecases.ports import Clock, UnitOfWorkFactory
from todostack.usecases.queries import LIMIT_MAX, SortField, TodoFilter
from todostack.usecases.todos import TodoService

__all__ = ["DEMO_LIST_ID", "DEMO_USER_ID", "TodoBackendService"]

DEMO_USER_ID = "00000000-0000-4000-8000-00000000d0d0"
DEMO_LIST_ID = "00000000-0000-4000-8000-00000000d0d1"
_DEMO = Principal(DEMO_USER_ID)


class TodoBackendService:
    """Todo-Backend semantics on top of the ordinary todo rules, for the demo owner."""

    def __init__(self, uow: UnitOfWorkFactory, todos: TodoService, clock: Clock, capacity: int) -> None:
        self._uow = uow
        self._todos = todos
        self._clock = clock
        self._capacity = capacity
        self._ready = False

    async def _ensure_demo_list(self) -> None:
        if self._ready:
            return
        async with self._uow() as uow:
            exists = await uow.lists.get(DEMO_USER_ID, DEMO_LIST_ID) is not None
        if not exists:
            now = self._clock()
            try:
                async with self._uow(write=True) as uow:
                    # "!" is no Argon2 hash: nobody can sign in as the demo owner.
                    await uow.users.add(User(DEMO_USER_ID, "todobackend@demo.invalid", "!", now))
                    await uow.lists.add(TodoList(DEMO_LIST_ID, DEMO_USER_ID, "Todo-Backend demo", now, now))
                    await uow.commit()
            except Conflict:
                pass  # another worker created it first
        self._ready = True

    async def all(self) -> list[Todo]:
        await self._ensure_demo_list()
        todos: list[Todo] = []
        cursor: str | None = None
        while True:
            page = await self._todos.search(
                _DEMO, TodoFilter(list_id=DEMO_LIST_ID), sort=SortField.ORDER, limit=LIMIT_MAX, cursor=cursor
            )
            todos.extend(page.items)
            if page.next_cursor is None:
                return todos
            cursor = page.next_cursor

    async def create(self, title: str, completed: bool, order: int | None) -> Todo:
        await self._ensure_demo_list()
        cmd = NewTodo(title=title, list_id=DEMO_LIST_ID, completed=completed, order=order)
        return await self._todos.create_in_capped_list(_DEMO, cmd, self._capacity)

    async def get(self, todo_id: str) -> Todo:
        return await self._todos.get(_DEMO, todo_id)

    async def update(self, todo_id: str, changes: TodoChanges) -> Todo:
        return await self._todos.update(_DEMO, todo_id, changes)

    async def delete(self, todo_id: str) -> None:
        await self._todos.delete(_DEMO, todo_id)

    async def delete_all(self) -> None:
        await self._ensure_demo_list()
        async with self._uow(write=True) as uow:
            await uow.todos.complete_all(DEMO_USER_ID, DEMO_LIST_ID, self._clock())
            await uow.todos.clear_completed(DEMO_USER_ID, DEMO_LIST_ID)
            await uow.commit()
