"""Versioned, checksummed SQL migrations shipped inside the package, one folder per dialect."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files

__all__ = ["Migration", "MigrationError", "check_applied", "load_migrations"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """The database's migration history does not match the migrations shipped."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(dialect: str) -> list[Migration]:
    folder = files("todostack.adapters").joinpath(dialect, "migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    return found


def check_applied(shipped: list[Migration], applied: dict[int, str]) -> list[Migration]:
    """Return the migrations still to apply; refuse a history that was edited or is from the future."""
    known = {m.version: m for m in shipped}
    for version, checksum in applied.items():
        migration = known.get(version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {version:04d}, which this version of todostack does not know; "
                "is an older release running against a newer database?"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {version:04d}_{migration.name} was changed after it was applied (checksum mismatch)"
            )
    return [m for m in shipped if m.version not in applied]
