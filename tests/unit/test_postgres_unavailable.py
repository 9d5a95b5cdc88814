"""Which PostgreSQL failures are outages (503 ``database_unavailable``) and which are not."""

from __future__ import annotations

import asyncpg
import pytest

from todostack.adapters.postgres.unavailable import is_unavailable, unavailable
from todostack.context import Unavailable


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
        TimeoutError(),
    ],
)
def test_outages_are_unavailable_and_say_why_without_internals(error: BaseException) -> None:
    assert is_unavailable(error)
    converted = unavailable(error)
    assert isinstance(converted, Unavailable)
    assert converted.detail.startswith("the database is unavailable: ")
    assert str(error) not in converted.detail or not str(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        ValueError("a bug"),
    ],
)
def test_bugs_and_bad_input_are_not_outages(error: BaseException) -> None:
    assert not is_unavailable(error)
