"""Todos: create, read, update, replace, delete, complete, move, reorder, search."""

from __future__ import annotations

from dataclasses import replace

from todostack.domain import (
    Conflict,
    FieldError,
    Invalid,
    NotFound,
    Principal,
    Todo,
    TodoList,
)
from todostack.domain.text import check_text
from todostack.domain.todos import (
    completion_time,
    normalize_due,
    normalize_tags,
    normalize_title,
    validate_notes,
    validate_order,
)
from todostack.usecases.auth import DEFAULT_LIST_NAME
from todostack.usecases.commands import UNSET, NewTodo, TodoChanges, VersionCheck
from todostack.usecases.idempotency import Created, fingerprint, present, run_idempotent
from todostack.usecases.lists import get_list
from todostack.usecases.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory
from todostack.usecases.queries import (
    LIMIT_MAX,
    Cursor,
    CursorCodec,
    Page,
    SortField,
    TodoFilter,
    TodoQuery,
    sort_key,
)
from todostack.usecases.quotas import Quotas, check_todos

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

    async def create(
        self,
        principal: Principal,
        cmd: NewTodo,
        idempotency_key: str | None = None,
        *,
        list_capacity: int | None = None,
    ) -> Created[Todo]:
        """Create a todo; without ``list_id`` it goes to the owner's first list.

        ``list_capacity`` caps how many todos the target list may hold (the public demo list).
        """
        errors: list[FieldError] = []
        title = normalize_title(cmd.title, errors)
        validate_notes(cmd.notes, errors)
        tags = normalize_tags(cmd.tags, errors)
        if cmd.order is not None:
            validate_order(cmd.order, errors)
        due = normalize_due(cmd.due, errors)
        if errors:
            raise Invalid(errors)
        now = self._clock()
        draft = Todo(
            id=self._ids(),
            owner_id=principal.user_id,
            list_id="",  # chosen as it is stored
            title=title,
            notes=cmd.notes,
            completed=cmd.completed,
            completed_at=completion_time(cmd.completed, None, now),
            due=due,
            priority=cmd.priority,
            tags=tags,
            order=0,  # chosen as it is stored
            created_at=now,
            updated_at=now,
        )
        # The demo list has a cap of its own (exact); accounts have a quota on all their todos.
        quotas = self._quotas if list_capacity is None else Quotas()
        if idempotency_key is None and list_capacity is None:
            # The common case is one statement: no transaction around it (the quota's count is a
            # read before it; see ``check_todos`` for what that means under concurrency).
            async with self._uow(write=True, autocommit=True) as uow:
                await check_todos(uow, quotas, principal.user_id)
                placed = await uow.todos.place(draft, list_id=cmd.list_id, order=cmd.order)
                await uow.commit()
            if placed is not None:
                return Created(placed)
            if cmd.list_id is not None:
                raise NotFound(f"list {cmd.list_id} not found")
            # An account with no list yet: the path below makes its inbox first.
        async with self._uow(write=True) as uow:

            async def create() -> Todo:
                await check_todos(uow, quotas, principal.user_id)
                if list_capacity is None:
                    placed = await uow.todos.place(draft, list_id=cmd.list_id, order=cmd.order)
                    if placed is not None:
                        return placed
                # A capped list is locked first: concurrent creates then count one after the
                # other, each seeing the rows the ones before it committed, so the cap is exact
                # (without the lock, PostgreSQL's READ COMMITTED let 1,004 into a 1,000 cap).
                todo_list = await self._target_list(uow, principal, cmd.list_id, lock=list_capacity is not None)
                if (
                    list_capacity is not None
                    and await uow.todos.count_in_list(principal.user_id, todo_list.id) >= list_capacity
                ):
                    raise Conflict(f"this list is full ({list_capacity} todos); delete some first")
                order = cmd.order
                if order is None:
                    highest = await uow.todos.max_order(principal.user_id, todo_list.id)
                    order = 0 if highest is None else highest + 1
                todo = replace(draft, list_id=todo_list.id, order=order)
                await uow.todos.add(todo)
                return todo

            return await run_idempotent(
                uow,
                scope=principal.user_id,
                key=idempotency_key,
                digest=fingerprint("todo", cmd),
                now=now,
                result_type=Todo,
                create=create,
                exists=lambda t: present(uow.todos.get(principal.user_id, t.id)),
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
        errors: list[FieldError] = []
        title = UNSET if changes.title is UNSET else normalize_title(changes.title, errors)
        if changes.notes is not UNSET:
            validate_notes(changes.notes, errors)
        tags = UNSET if changes.tags is UNSET else normalize_tags(changes.tags, errors)
        if changes.order is not UNSET:
            validate_order(changes.order, errors)
        due = changes.due if changes.due is UNSET else normalize_due(changes.due, errors)
        if errors:
            raise Invalid(errors)
        normalized = replace(changes, title=title, tags=tags, due=due)
        for _ in range(_OPTIMISTIC_TRIES):
            async with self._uow() as uow:
                current = await self._checked(uow, principal, todo_id, normalized, expected)
            updated = self._changed(current, normalized)
            if updated is None:
                return current
            async with self._uow(write=True, autocommit=True) as uow:
                stored = await uow.todos.update_if(updated, version=current.version)
                await uow.commit()
            if stored:
                return updated
        async with self._uow(write=True) as uow:
            current = await self._checked(uow, principal, todo_id, normalized, expected, for_update=True)
            updated = self._changed(current, normalized)
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

    def _changed(self, current: Todo, changes: TodoChanges) -> Todo | None:
        """``current`` with the (normalized) changes and its next version; None if nothing changes."""
        given: dict[str, object] = {
            "title": changes.title,
            "list_id": changes.list_id,
            "notes": changes.notes,
            "completed": changes.completed,
            "priority": changes.priority,
            "tags": changes.tags,
            "order": changes.order,
        }
        fields = {name: value for name, value in given.items() if value is not UNSET}
        if changes.due is not UNSET:
            fields["due"] = changes.due  # normalized by update()
        return current.revised(self._clock(), **fields)

    async def replace(self, principal: Principal, todo_id: str, cmd: NewTodo, expected: VersionCheck = None) -> Todo:
        """Replace every writable field (PUT). A missing ``list_id`` keeps the current list."""
        changes = TodoChanges(
            title=cmd.title,
            list_id=UNSET if cmd.list_id is None else cmd.list_id,
            notes=cmd.notes,
            completed=cmd.completed,
            due=cmd.due,
            priority=cmd.priority,
            tags=cmd.tags,
            order=UNSET if cmd.order is None else cmd.order,
        )
        return await self.update(principal, todo_id, changes, expected)

    async def complete(self, principal: Principal, todo_id: str, expected: VersionCheck = None) -> Todo:
        return await self.update(principal, todo_id, TodoChanges(completed=True), expected)

    async def reopen(self, principal: Principal, todo_id: str, expected: VersionCheck = None) -> Todo:
        return await self.update(principal, todo_id, TodoChanges(completed=False), expected)

    async def move(self, principal: Principal, todo_id: str, list_id: str, expected: VersionCheck = None) -> Todo:
        return await self.update(principal, todo_id, TodoChanges(list_id=list_id), expected)

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
        errors: list[FieldError] = []
        if not 1 <= limit <= LIMIT_MAX:
            errors.append(FieldError("limit", f"must be between 1 and {LIMIT_MAX}"))
        check_text("q", todo_filter.text or "", errors)
        check_text("tag", todo_filter.tag or "", errors)
        todo_filter = replace(
            todo_filter,
            due_before=normalize_due(todo_filter.due_before, errors, "due_before"),
            due_after=normalize_due(todo_filter.due_after, errors, "due_after"),
        )
        if errors:
            raise Invalid(errors)
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
