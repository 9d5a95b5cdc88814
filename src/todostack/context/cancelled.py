"""Why work stopped: the causes, and the exceptions that carry them (the tree is drawn in
``todostack.context``)."""

from __future__ import annotations

import enum

__all__ = ["Cancelled", "Cause", "DeadlineExceeded", "Overloaded", "StorageFull", "Unavailable"]


class Cause(enum.StrEnum):
    DEADLINE_EXCEEDED = "deadline_exceeded"
    CLIENT_DISCONNECTED = "client_disconnected"
    SHUTDOWN = "shutdown"
    OVERLOADED = "overloaded"
    DATABASE_UNAVAILABLE = "database_unavailable"
    STORAGE_FULL = "storage_full"


class Cancelled(Exception):
    cause: Cause = Cause.SHUTDOWN

    def __init__(self, detail: str, cause: Cause | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if cause is not None:
            self.cause = cause


class DeadlineExceeded(Cancelled):
    cause = Cause.DEADLINE_EXCEEDED


class Overloaded(Cancelled):
    cause = Cause.OVERLOADED

    def __init__(self, detail: str, retry_after_seconds: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(Cancelled):
    """The database cannot serve now (down, refusing, restarting, no connection slot): retry later."""

    cause = Cause.DATABASE_UNAVAILABLE

    def __init__(self, detail: str, retry_after_seconds: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class StorageFull(Cancelled):
    """The database's filesystem is full: the write was not kept (it was rolled back)."""

    cause = Cause.STORAGE_FULL

    def __init__(self, detail: str, retry_after_seconds: int = 5) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds
