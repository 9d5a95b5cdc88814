"""Domain rules and settings: pure functions, table-driven."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from todostack.domain import FieldError
from todostack.domain.lists import list_name_errors
from todostack.domain.todos import due_errors, normalize_due, notes_errors, tags_errors, title_errors
from todostack.domain.users import email_errors, password_errors
from todostack.runtime import Settings, SettingsError


@pytest.mark.parametrize(
    ("check", "value", "field"),
    [
        (title_errors, "a\x00b", "title"),
        (notes_errors, "a\x00b", "notes"),
        (list_name_errors, "a\x00b", "name"),
        (password_errors, "long password\x00", "password"),
        (email_errors, "a\x00@b.co", "email"),
        (tags_errors, ("ok", "a\x00"), "tags"),
    ],
    ids=["title", "notes", "list-name", "password", "email", "tag"],
)
def test_nul_is_refused_everywhere(check: Callable[[object], list[FieldError]], value: object, field: str) -> None:
    errors = check(value)
    assert [e.field for e in errors] == [field]


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (None, None),
        (datetime(2030, 1, 1, 9), datetime(2030, 1, 1, 9, tzinfo=UTC)),
        (datetime(2030, 1, 1, 9, tzinfo=timezone(timedelta(hours=9))), datetime(2030, 1, 1, 0, tzinfo=UTC)),
    ],
    ids=["none", "naive-is-utc", "offset-converted"],
)
def test_due_dates_are_stored_in_utc(due: datetime | None, expected: datetime | None) -> None:
    assert normalize_due(due) == expected
    assert due_errors(due) == []


@pytest.mark.parametrize(
    "due",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))),
    ],
    ids=["year-0-in-utc", "year-10000-in-utc"],
)
def test_due_dates_without_a_utc_instant_are_a_field_error(due: datetime) -> None:
    assert normalize_due(due) is None
    assert [e.field for e in due_errors(due, "due_before")] == ["due_before"]


@pytest.mark.parametrize(
    ("env", "check"),
    [
        ({}, lambda s: (s.server.port, s.database.dialect, s.todobackend) == (8000, "sqlite", True)),
        ({"TODOSTACK_ENV": "production"}, lambda s: s.todobackend is False),
        ({"TODOSTACK_ENV": "production", "TODOSTACK_TODOBACKEND": "on"}, lambda s: s.todobackend is True),
        ({"TODOSTACK_DATABASE_URL": "postgresql://x@h/db"}, lambda s: s.database.dialect == "postgresql"),
        (
            {"TODOSTACK_WORKERS": "3", "TODOSTACK_PORT": "9000"},
            lambda s: (s.server.workers, s.server.port) == (3, 9000),
        ),
        ({}, lambda s: s.server.asgi_server == "granian"),
        ({"TODOSTACK_ASGI_SERVER": "uvicorn"}, lambda s: s.server.asgi_server == "uvicorn"),
        ({}, lambda s: s.server.event_loop == "uvloop"),
        ({"TODOSTACK_EVENT_LOOP": "asyncio"}, lambda s: s.server.event_loop == "asyncio"),
        (
            {"TODOSTACK_EVENT_LOOP": "asyncio"},
            lambda s: s.to_env()["TODOSTACK_EVENT_LOOP"] == "asyncio",
        ),
    ],
    ids=[
        "defaults",
        "production-turns-demo-off",
        "explicit-on",
        "postgres-url",
        "workers-and-port",
        "granian-by-default",
        "uvicorn-chosen",
        "uvloop-by-default",
        "asyncio-chosen",
        "loop-handed-to-workers",
    ],
)
def test_settings_from_env(env: dict[str, str], check: object) -> None:
    assert check(Settings.from_env(env))  # type: ignore[operator]


@pytest.mark.parametrize(
    "env",
    [
        {"TODOSTACK_PORT": "eighty"},
        {"TODOSTACK_PORT": "70000"},
        {"TODOSTACK_ENV": "staging"},
        {"TODOSTACK_DATABASE_URL": "mysql://x"},
        {"TODOSTACK_TODOBACKEND": "maybe"},
        {"TODOSTACK_ARGON2_MEMORY_KIB": "8"},
        {"TODOSTACK_ASGI_SERVER": "hypercorn"},
        {"TODOSTACK_EVENT_LOOP": "trio"},
    ],
    ids=[
        "port-not-number",
        "port-out-of-range",
        "unknown-env",
        "unknown-database",
        "bad-switch",
        "argon2-below-minimum",
        "unknown-asgi-server",
        "unknown-event-loop",
    ],
)
def test_bad_settings_are_named(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert next(iter(env)) in str(caught.value)


@pytest.mark.parametrize(
    ("env", "problems"),
    [
        ({}, 0),
        ({"TODOSTACK_ENV": "production"}, 1),
        ({"TODOSTACK_ENV": "production", "TODOSTACK_SECRET_KEY": "short"}, 1),
        ({"TODOSTACK_ENV": "production", "TODOSTACK_SECRET_KEY": "s" * 32}, 0),
        ({"TODOSTACK_DATABASE_URL": "postgresql://h/db"}, 1),
        ({"TODOSTACK_DATABASE_URL": "postgresql://h/db", "TODOSTACK_SECRET_KEY": "s" * 32}, 0),
        ({"TODOSTACK_SECRET_KEY": "guessable"}, 1),
    ],
    ids=[
        "development-sqlite-generates-one",
        "production-default-refused",
        "production-short-refused",
        "production-ok",
        "postgresql-without-a-key-refused",
        "postgresql-ok",
        "short-refused-everywhere",
    ],
)
def test_production_needs_a_real_secret(env: dict[str, str], problems: int) -> None:
    assert len(Settings.from_env(env).problems_for_start()) == problems


def test_flags_win_over_environment() -> None:
    settings = Settings.from_env({"TODOSTACK_PORT": "9000"}).with_overrides(port=9100, database_url="memory://")
    assert (settings.server.port, settings.database.url) == (9100, "memory://")
    assert Settings.from_env(settings.to_env()) == settings


def test_todos_are_read_only_to_the_type_checker(tmp_path: Path) -> None:
    """Todo is not frozen at run time (construction speed): mypy is what refuses assignments."""
    from mypy import api

    snippet = tmp_path / "assigns.py"
    snippet.write_text(
        "from dataclasses import replace\n"
        "from todostack.domain import Todo\n"
        "def f(t: Todo) -> Todo:\n"
        "    t.title = 'changed'\n"
        "    return replace(t, title='copied')\n"
    )
    out, _, status = api.run(["--strict", "--no-incremental", "--follow-imports=silent", str(snippet)])
    assert status == 1, out
    assert 'Property "title" defined in "Todo" is read-only' in out
    assert out.count("error:") == 1, out  # replace() is fine
