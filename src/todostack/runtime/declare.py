"""How a setting is declared: once, on its settings class, with its variable, default, bounds and
meaning. Reading the environment, writing it back for worker processes, the README's table and
the command's ``--help`` are all derived from these declarations."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any, TypeVar

from todostack.runtime.sizing import parse_bytes

__all__ = [
    "SettingsError",
    "Spec",
    "declared",
    "number",
    "one_of",
    "read_group",
    "setting",
    "size",
    "switch",
    "text",
    "whole",
    "write_group",
]

T = TypeVar("T")


class SettingsError(ValueError):
    """A setting has a value the service cannot run with."""


@dataclass(frozen=True, slots=True)
class Spec:
    env: str
    doc: str
    parse: Callable[[str], object]  # raises ValueError("must be ...")
    show: Callable[[Any], str]
    default_doc: str | None  # the default as people read it, where the value would not say it


def setting(
    env: str,
    default: T,
    doc: str,
    parse: Callable[[str], object],
    *,
    show: Callable[[Any], str] = str,
    default_doc: str | None = None,
) -> T:
    spec = Spec(env, doc, parse, show, default_doc)
    made: T = field(default=default, metadata={"setting": spec})
    return made


def whole(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"must be a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def number(low: float, high: float, expect: str | None = None, *, above_low: bool = False) -> Callable[[str], float]:
    said = expect or f"between {low:g} and {high:g} seconds"

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if math.isnan(value) or not (low < value if above_low else low <= value) or value > high:
            raise ValueError(f"must be {said}, got {raw!r}")
        return value

    return parse


def switch(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "on", "yes"):
        return True
    if lowered in ("0", "false", "off", "no"):
        return False
    raise ValueError(f"must be on or off, got {lowered!r}")


def on_off(value: bool) -> str:
    return "on" if value else "off"


def one_of(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        lowered = raw.lower()
        if lowered not in choices:
            raise ValueError(f"must be {', '.join(choices[:-1])} or {choices[-1]}, got {lowered!r}")
        return lowered

    return parse


def text(raw: str) -> str:
    return raw


def size(raw: str) -> int:
    return parse_bytes(raw)


def declared(cls: type) -> Iterator[tuple[Field[Any], Spec]]:
    for f in fields(cls):
        spec = f.metadata.get("setting")
        if isinstance(spec, Spec):
            yield f, spec


def read_group(cls: type[T], env: Mapping[str, str], **given: object) -> T:
    """An instance of the settings class ``cls`` from ``env``: an unset or empty variable keeps the default."""
    values = dict(given)
    for f, spec in declared(cls):
        raw = env.get(spec.env, "").strip()
        if not raw:
            continue
        try:
            values[f.name] = spec.parse(raw)
        except ValueError as exc:
            raise SettingsError(f"{spec.env} {exc}") from None
    return cls(**values)


def write_group(group: object) -> dict[str, str]:
    """The variables that reproduce ``group`` (unset where its value is None)."""
    env = {}
    for f, spec in declared(type(group)):
        value = getattr(group, f.name)
        if value is not None:
            env[spec.env] = spec.show(value)
    return env


def shown_default(f: Field[Any], spec: Spec) -> str:
    if spec.default_doc is not None:
        return spec.default_doc
    return "none" if f.default is None else spec.show(f.default)
