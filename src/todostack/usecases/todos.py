"""Todos: create, read, update, replace, delete, reorder, search."""

from __future__ import annotations

from dataclasses import replace

from todostack.domain import Conflict, FieldError, Invalid, NotFound, Principal, Todo, TodoList
from todostack.domain.lists import DEFAULT_LIST_NAME
from todostack.usecases.commands import UNSET, NewTodo, TodoChanges, VersionCheck
from todostack.usecases.idempotency import Created, fingerprint, present, run_idempotent
from todostack.usecases.lists import get_list
from todostack.usecases.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory
from todostack.usecases.queries import Cursor, CursorCodec, Page, SortField, TodoFilter, TodoQuery, sort_key
from todostack.usecases.quotas import Quotas, check_todos
from todostack.usecases.todo_input import as_changes, set_fields, valid_changes, valid_filter, valid_todo

__all__ = ["TodoService"]

# Optimistic attempts at an update before it waits for the row lock instead.
_OPTIMISTIC_TRIES = 3


class TodoService:
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

    async def _target_list(
        self, uow: UnitOfWork, principal: Principal, list_id: str | None, *, lock: bool = False
    ) -> TodoList:
        if list_id is not None:
            return await get_list(uow, principal, list_id, for_update=lock)
        oldest = await uow.lists.oldest(principal.user_id)
        if oldest is not None:
            return oldest
        now = self._clock()
        inbox = TodoList(self._ids(), principal.user_id, DEFAULT_LIST_NAME, now, now)
        await uow.lists.add(inbox)
        return inbox

    async def create(self, principal: Principal, cmd: NewTodo, idempotency_key: str | None = None) -> Created[Todo]:
        """Create a todo; without ``list_id`` it goes to the owner's first list."""
        draft = self._draft(principal, cmd)
        if idempotency_key is None:
            # The common case is one statement, no transaction around it: the insert reads the
            # quota's count itself (without a lock, as ``check_todos`` does).
            async with self._uow(write=True, autocommit=True) as uow:
                placed = await uow.todos.place(draft, list_id=cmd.list_id, order=cmd.order, below=self._quotas.todos)
                await uow.commit()
            if placed is not None:
                return Created(placed)
            # Nothing written: the quota is full, the list is not the owner's, or the account has
            # no list yet. The path below tells which (and makes the inbox of the last).
        async with self._uow(write=True) as uow:

            async def create() -> Todo:
                await check_todos(uow, self._quotas, principal.user_id)
                placed = await uow.todos.place(draft, list_id=cmd.list_id, order=cmd.order)
                if placed is not None:
                    return placed
                todo_list = await self._target_list(uow, principal, cmd.list_id)
                return await _append(uow, draft, todo_list, cmd.order)

            return await run_idempotent(
                uow,
                scope=principal.user_id,
                key=idempotency_key,
                digest=fingerprint("todo", cmd),
                now=draft.created_at,
                result_type=Todo,
                create=create,
                exists=lambda t: present(uow.todos.get(principal.user_id, t.id)),
            )

    async def create_in_capped_list(self, principal: Principal, cmd: NewTodo, capacity: int) -> Todo:
        """Create a todo in a list that holds at most ``capacity`` todos (the public demo list),
        or ``Conflict`` when it is full. The list's cap replaces the account's quota."""
        draft = self._draft(principal, cmd)
        async with self._uow(write=True) as uow:
            # The list is locked first: concurrent creates then count one after the other, each
            # seeing the rows the ones before it committed, so the cap is exact (without the
            # lock, PostgreSQL's READ COMMITTED let 1,004 into a 1,000 cap).
            todo_list = await self._target_list(uow, principal, cmd.list_id, lock=True)
            if await uow.todos.count_in_list(principal.user_id, todo_list.id) >= capacity:
                raise Conflict(f"this list is full ({capacity} todos); delete some first")
            todo = await _append(uow, draft, todo_list, cmd.order)
            await uow.commit()
        return todo

    def _draft(self, principal: Principal, cmd: NewTodo) -> Todo:
        """The todo ``cmd`` asks for, checked; its list and order are chosen as it is stored."""
        cmd = valid_todo(cmd)
        return Todo.new(
            id=self._ids(),
            owner_id=principal.user_id,
            list_id="",
            title=cmd.title,
            notes=cmd.notes,
            completed=cmd.completed,
            due=cmd.due,
            priority=cmd.priority,
            tags=cmd.tags,
            order=0,
            now=self._clock(),
        )

    async def get(self, principal: Principal, todo_id: str) -> Todo:
        async with self._uow() as uow:
            return await self._get(uow, principal, todo_id)

    async def _get(self, uow: UnitOfWork, principal: Principal, todo_id: str, *, for_update: bool = False) -> Todo:
        todo = await uow.todos.get(principal.user_id, todo_id, for_update=for_update)
        if todo is None:
            raise NotFound(f"todo {todo_id} not found")
        return todo

    async def update(
        self, principal: Principal, todo_id: str, changes: TodoChanges, expected: VersionCheck = None
    ) -> Todo:
        """Apply a partial update (PATCH). Unchanged todos keep their version.

        Optimistic first: read the todo, then store the change only if its version is still the
        one read (two statements, no transaction, no lock held between them). A write that lands
        in between makes it read again; with ``expected`` (If-Match) that read answers 412.
        After a few such races it takes the row lock instead, so a busy todo is never refused.
        """
        normalized = valid_changes(changes)
        fields = set_fields(normalized)
        for _ in range(_OPTIMISTIC_TRIES):
            async with self._uow() as uow:
                current = await self._checked(uow, principal, todo_id, normalized, expected)
            updated = current.revised(self._clock(), **fields)
            if updated is None:
                return current
            async with self._uow(write=True, autocommit=True) as uow:
                stored = await uow.todos.update_if(updated, version=current.version)
                await uow.commit()
            if stored:
                return updated
        async with self._uow(write=True) as uow:
            current = await self._checked(uow, principal, todo_id, normalized, expected, for_update=True)
            updated = current.revised(self._clock(), **fields)
            if updated is None:
                return current
            await uow.todos.update(updated)
            await uow.commit()
            return updated

    async def _checked(
        self,
        uow: UnitOfWork,
        principal: Principal,
        todo_id: str,
        changes: TodoChanges,
        expected: VersionCheck,
        *,
        for_update: bool = False,
    ) -> Todo:
        """The todo as stored, once If-Match and the target list (on a move) are checked."""
        current = await self._get(uow, principal, todo_id, for_update=for_update)
        current.check_version(expected)
        if changes.list_id is not UNSET and changes.list_id != current.list_id:
            await get_list(uow, principal, changes.list_id)
        return current

    async def replace(self, principal: Principal, todo_id: str, cmd: NewTodo, expected: VersionCheck = None) -> Todo:
        """Replace every writable field (PUT). A missing ``list_id`` keeps the current list."""
        return await self.update(principal, todo_id, as_changes(cmd), expected)

    async def delete(self, principal: Principal, todo_id: str, expected: VersionCheck = None) -> None:
        async with self._uow(write=True) as uow:
            current = await self._get(uow, principal, todo_id, for_update=True)
            current.check_version(expected)
            await uow.todos.delete(principal.user_id, todo_id)
            await uow.commit()

    async def reorder(self, principal: Principal, list_id: str, todo_ids: list[str]) -> list[Todo]:
        """Give the named todos of a list the orders 0, 1, 2, … in the sequence given."""
        if len(set(todo_ids)) != len(todo_ids):
            raise Invalid([FieldError("todo_ids", "must not repeat an id")])
        async with self._uow(write=True) as uow:
            await get_list(uow, principal, list_id, for_update=True)
            now = self._clock()
            result: list[Todo] = []
            for position, todo_id in enumerate(todo_ids):
                todo = await uow.todos.get(principal.user_id, todo_id, for_update=True)
                if todo is None or todo.list_id != list_id:
                    raise Invalid([FieldError("todo_ids", f"{todo_id} is not a todo of list {list_id}")])
                revised = todo.revised(now, order=position)
                if revised is not None:
                    todo = revised
                    await uow.todos.update(todo)
                result.append(todo)
            await uow.commit()
            return result

    async def search(
        self,
        principal: Principal,
        todo_filter: TodoFilter,
        *,
        sort: SortField = SortField.ORDER,
        descending: bool = False,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        todo_filter = valid_filter(todo_filter, limit)
        after = self._cursors.decode(cursor, sort, descending) if cursor else None
        query = TodoQuery(principal.user_id, todo_filter, sort, descending, limit, after)
        async with self._uow() as uow:
            rows = await uow.todos.search(query)
            if not rows and todo_filter.list_id is not None:
                # Rows are the owner's, so any row proves the list is the caller's; only an empty
                # page needs asking whether the list exists at all (404, not an empty page).
                await get_list(uow, principal, todo_filter.list_id)
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = self._cursors.encode(Cursor(sort, descending, sort_key(last, sort), last.id))
        return Page(items, next_cursor)


async def _append(uow: UnitOfWork, draft: Todo, todo_list: TodoList, order: int | None) -> Todo:
    """Add ``draft`` to ``todo_list`` at ``order``, or after the list's last todo."""
    if order is None:
        highest = await uow.todos.max_order(draft.owner_id, todo_list.id)
        order = 0 if highest is None else highest + 1
    todo = replace(draft, list_id=todo_list.id, order=order)
    await uow.todos.add(todo)
    return todo
