"""In-memory storage: the fake behind unit tests, and a real adapter for ``memory://``."""

from todostack.adapters.memory.store import InMemoryDatabase

__all__ = ["InMemoryDatabase"]
