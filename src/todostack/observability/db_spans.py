"""The client span around one SQL statement: ``db.*`` and ``server.*`` attributes, the statement's
text with its placeholders (never its values)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry.trace import SpanKind, Tracer

__all__ = ["Database", "db_span", "operation_of"]

_OPERATION = re.compile(r"\s*(\w+)")
_COLLECTION = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+(\w+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Database:
    """Where statements go, for their spans: ``db.*`` and ``server.*`` attributes."""

    system: str  # postgresql, sqlite
    namespace: str  # the database name (or file)
    address: str | None = None
    port: int | None = None


@functools.lru_cache(maxsize=512)
def operation_of(sql: str) -> str:
    match = _OPERATION.match(sql)
    return match.group(1).upper() if match else "UNKNOWN"


@contextmanager
def db_span(tracer: Tracer, db: Database, sql: str) -> Iterator[None]:
    """A client span around one statement, for a caller that found the span in effect recording."""
    operation = operation_of(sql)
    collection = _COLLECTION.search(sql)
    attributes: dict[str, str | int] = {
        "db.system.name": db.system,
        "db.namespace": db.namespace,
        "db.operation.name": operation,
        "db.query.text": sql,
    }
    if collection is not None:
        attributes["db.collection.name"] = collection.group(1)
    if db.address is not None:
        attributes["server.address"] = db.address
    if db.port is not None:
        attributes["server.port"] = db.port
    name = f"{operation} {collection.group(1)}" if collection is not None else operation
    with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes) as span:
        try:
            yield
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__name__)
            raise
