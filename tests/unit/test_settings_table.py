"""The README's configuration table is the one the settings' declarations generate."""

from __future__ import annotations

from pathlib import Path

import pytest

from todostack.runtime.settings import Settings, settings_table, specs

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN = "<!-- settings: generated"
END = "<!-- settings: end -->"

pytestmark = pytest.mark.unit


def test_readme_table_is_the_generated_one() -> None:
    text = README.read_text()
    start = text.index("\n", text.index(BEGIN)) + 1
    written = text[start : text.index(END)]
    assert written == settings_table(), "README's configuration table is stale: paste settings_table()'s output"


def test_every_declared_variable_round_trips_through_the_environment() -> None:
    names = [spec.env for _, spec in specs()]
    assert len(names) == len(set(names)), "a variable is declared twice"
    settings = Settings.from_env({})
    assert set(settings.to_env()) <= set(names)
    assert Settings.from_env(settings.to_env()) == settings
