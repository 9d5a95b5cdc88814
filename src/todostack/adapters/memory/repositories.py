"""In memory: users, lists, todos, idempotency keys and the change feed, each on the unit of work's
copy of the tables (sessions and sign-in attempts: ``auth_tables.py``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from todostack.adapters.memory.tables import Tables
from todostack.adapters.ordering import ordered_page
from todostack.domain import Change, ChangeKind, Conflict, Entity, NotFound, Todo, TodoList, User
from todostack.usecases.idempotency import IDEMPOTENCY_TTL
from todostack.usecases.ports import ListPosition, Snapshot, StoredClaim
from todostack.usecases.queries import TodoQuery

__all__ = ["MemoryChanges", "MemoryIdempotency", "MemoryLists", "MemoryTodos", "MemoryUsers"]


class MemoryUsers:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def add(self, user: User) -> None:
        if user.id in self._t.users or any(u.email == user.email for u in self._t.users.values()):
            raise Conflict("an account with this email already exists")
        self._t.users[user.id] = user

    async def get(self, user_id: str) -> User | None:
        return self._t.users.get(user_id)

    async def get_by_email(self, email: str) -> User | None:
        return next((u for u in self._t.users.values() if u.email == email), None)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        user = self._t.users.get(user_id)
        if user is not None:
            self._t.users[user_id] = replace(user, password_hash=password_hash)


class MemoryLists:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def add(self, todo_list: TodoList) -> None:
        if todo_list.id in self._t.lists:
            raise Conflict("list id already exists")
        self._t.lists[todo_list.id] = todo_list
        self._t.record(Entity.LIST, todo_list, ChangeKind.CREATED)

    async def get(self, owner_id: str, list_id: str, *, for_update: bool = False) -> TodoList | None:
        found = self._t.lists.get(list_id)
        return found if found is not None and found.owner_id == owner_id else None

    async def oldest(self, owner_id: str) -> TodoList | None:
        mine = await self.list_for_owner(owner_id)
        return mine[0] if mine else None

    async def list_for_owner(self, owner_id: str) -> list[TodoList]:
        mine = [lst for lst in self._t.lists.values() if lst.owner_id == owner_id]
        return sorted(mine, key=lambda lst: (lst.created_at, lst.id))

    async def page_for_owner(self, owner_id: str, after: ListPosition | None, limit: int) -> list[TodoList]:
        mine = await self.list_for_owner(owner_id)
        if after is not None:
            mine = [lst for lst in mine if (lst.created_at, lst.id) > after]
        return mine[:limit]

    async def count_for_owner(self, owner_id: str, up_to: int) -> int:
        return min(up_to, sum(1 for lst in self._t.lists.values() if lst.owner_id == owner_id))

    async def update(self, todo_list: TodoList) -> None:
        self._t.lists[todo_list.id] = todo_list
        self._t.record(Entity.LIST, todo_list, ChangeKind.UPDATED)

    async def delete(self, owner_id: str, list_id: str) -> None:
        found = await self.get(owner_id, list_id)
        if found is None:
            return
        for todo in [t for t in self._t.todos.values() if t.list_id == list_id]:
            del self._t.todos[todo.id]
            self._t.count_todos(todo.owner_id, -1)
            self._t.record(Entity.TODO, todo, ChangeKind.DELETED)
        del self._t.lists[list_id]
        self._t.record(Entity.LIST, found, ChangeKind.DELETED)


class MemoryTodos:
    def __init__(self, t: Tables) -> None:
        self._t = t

    def _in_list(self, owner_id: str, list_id: str) -> list[Todo]:
        return [t for t in self._t.todos.values() if t.owner_id == owner_id and t.list_id == list_id]

    async def add(self, todo: Todo) -> None:
        if todo.id in self._t.todos:
            raise Conflict("todo id already exists")
        self._t.todos[todo.id] = todo
        self._t.count_todos(todo.owner_id, 1)
        self._t.record(Entity.TODO, todo, ChangeKind.CREATED)

    async def place(
        self, todo: Todo, *, list_id: str | None, order: int | None, below: int | None = None
    ) -> Todo | None:
        if below is not None and self._t.todo_counts.get(todo.owner_id, 0) >= below:
            return None
        lists = MemoryLists(self._t)
        target = await (lists.oldest(todo.owner_id) if list_id is None else lists.get(todo.owner_id, list_id))
        if target is None:
            return None
        if order is None:
            highest = await self.max_order(todo.owner_id, target.id)
            order = 0 if highest is None else highest + 1
        placed = replace(todo, list_id=target.id, order=order)
        await self.add(placed)
        return placed

    async def get(self, owner_id: str, todo_id: str, *, for_update: bool = False) -> Todo | None:
        found = self._t.todos.get(todo_id)
        return found if found is not None and found.owner_id == owner_id else None

    async def update(self, todo: Todo) -> None:
        before = self._t.todos.get(todo.id)
        if before is not None and before.owner_id != todo.owner_id:
            self._t.count_todos(before.owner_id, -1)
            self._t.count_todos(todo.owner_id, 1)
        self._t.todos[todo.id] = todo
        self._t.record(Entity.TODO, todo, ChangeKind.UPDATED)

    async def update_if(self, todo: Todo, *, version: int) -> bool:
        current = await self.get(todo.owner_id, todo.id)
        if current is None or current.version != version:
            return False
        if await MemoryLists(self._t).get(todo.owner_id, todo.list_id) is None:
            raise NotFound(f"list {todo.list_id} not found")
        await self.update(todo)
        return True

    async def delete(self, owner_id: str, todo_id: str) -> None:
        found = await self.get(owner_id, todo_id)
        if found is not None:
            del self._t.todos[todo_id]
            self._t.count_todos(owner_id, -1)
            self._t.record(Entity.TODO, found, ChangeKind.DELETED)

    async def search(self, query: TodoQuery) -> list[Todo]:
        return ordered_page(list(self._t.todos.values()), query)

    async def count_in_list(self, owner_id: str, list_id: str) -> int:
        return len(self._in_list(owner_id, list_id))

    async def count_for_owner(self, owner_id: str, up_to: int) -> int:
        return min(up_to, self._t.todo_counts.get(owner_id, 0))

    async def max_order(self, owner_id: str, list_id: str) -> int | None:
        return max((t.order for t in self._in_list(owner_id, list_id)), default=None)

    async def complete_all(self, owner_id: str, list_id: str, now: datetime) -> int:
        open_todos = [t for t in self._in_list(owner_id, list_id) if not t.completed]
        for t in open_todos:
            await self.update(replace(t, completed=True, completed_at=now, updated_at=now, version=t.version + 1))
        return len(open_todos)

    async def clear_completed(self, owner_id: str, list_id: str) -> int:
        done = [t for t in self._in_list(owner_id, list_id) if t.completed]
        for todo in done:
            del self._t.todos[todo.id]
            self._t.count_todos(owner_id, -1)
            self._t.record(Entity.TODO, todo, ChangeKind.DELETED)
        return len(done)


class MemoryChanges:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def since(self, owner_id: str, after: int, limit: int) -> list[Change]:
        mine = (c for c in self._t.changes if c.id > after and c.owner_id == owner_id)
        return [c for _, c in zip(range(limit), mine, strict=False)]

    async def recent(self, after: int, limit: int) -> list[Change]:
        return [c for c in self._t.changes if c.id > after][:limit]

    async def latest(self) -> int:
        return self._t.last_change

    async def horizon(self) -> int:
        return self._t.horizon

    async def prune(self, before: datetime, limit: int) -> int:
        # Oldest first: stop at the first change that is still young enough to keep.
        head = self._t.changes[:limit]
        count = next((i for i, c in enumerate(head) if c.at >= before), len(head))
        if count:
            self._t.horizon = max(self._t.horizon, self._t.changes[count - 1].id)
            del self._t.changes[:count]
        return count


class MemoryIdempotency:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def claim(self, scope: str, key: str, fingerprint: str, now: datetime) -> StoredClaim | None:
        prior = self._t.keys.get((scope, key))
        if prior is not None and prior[2] > now - IDEMPOTENCY_TTL:
            return StoredClaim(prior[0], prior[1])
        self._t.keys[(scope, key)] = (fingerprint, None, now)
        return None

    async def complete(self, scope: str, key: str, snapshot: Snapshot) -> None:
        fingerprint, _, at = self._t.keys[(scope, key)]
        self._t.keys[(scope, key)] = (fingerprint, snapshot, at)
