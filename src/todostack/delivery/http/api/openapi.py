"""The served OpenAPI document, completed as a security contract (Spectral's OWASP ruleset): what
Litestar generates, with constraints where tools look, bounded ids and date-times, and the answers
and headers every operation may carry. What the structs' schemas need is in ``struct_schemas``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin

__all__ = ["CompletedJsonRenderPlugin", "complete_document"]


# Constraints Litestar writes beside a nullable/optional ``oneOf``, where tools do not look; they
# belong to the member of the matching type.
_STRING_KEYS = ("maxLength", "minLength", "pattern", "format")
_NUMBER_KEYS = ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "multipleOf")
_ARRAY_KEYS = ("maxItems", "minItems", "uniqueItems")
_KEYS_FOR = {"string": _STRING_KEYS, "integer": _NUMBER_KEYS, "number": _NUMBER_KEYS, "array": _ARRAY_KEYS}
# RFC 3339 date-times are 20-35 characters (nanoseconds and an offset included); query
# parameters refuse more than 64 (``routes.todos.Timestamp``).
DATE_TIME_MAX = 64
UUID_MAX = 36  # 8-4-4-4-12 hex digits; the ids in paths answer 404 to anything else (``parse_id``)
_ID_PARAMETERS = frozenset({"list_id", "todo_id"})


def _member_type(member: dict[str, Any]) -> str | None:
    kind = member.get("type")
    return kind if isinstance(kind, str) else None


def _hoist(schema: dict[str, Any]) -> None:
    """Move constraints beside ``oneOf`` into its members; fold ``[T, null]`` into ``type: [T, "null"]``."""
    members = schema.get("oneOf")
    if not isinstance(members, list) or not all(isinstance(m, dict) for m in members):
        return
    for kind, keys in _KEYS_FOR.items():
        for member in members:
            if _member_type(member) != kind:
                continue
            for key in keys:
                if key in schema and key not in member:
                    member[key] = schema[key]
    for keys in _KEYS_FOR.values():
        for key in keys:
            schema.pop(key, None)
    typed = [m for m in members if _member_type(m) != "null"]
    nullable = len(typed) < len(members)
    if len(typed) != 1 or "$ref" in typed[0] or not isinstance(typed[0].get("type"), str):
        return
    (only,) = typed
    del schema["oneOf"]
    for key, value in only.items():
        schema.setdefault(key, value)
    if nullable:
        schema["type"] = [only["type"], "null"]
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    return {k for k in kind if isinstance(k, str)} if isinstance(kind, list) else set()


def _bound_known_formats(schema: dict[str, Any]) -> None:
    if "string" not in _types(schema) or "maxLength" in schema or "enum" in schema or "const" in schema:
        return
    if schema.get("format") == "date-time":
        schema["maxLength"] = DATE_TIME_MAX
    elif schema.get("format") == "uuid":
        schema["maxLength"] = UUID_MAX


def _tighten(node: Any) -> None:
    """Every schema below ``node``: constraints where tools look, integers with a format."""
    if isinstance(node, list):
        for item in node:
            _tighten(item)
        return
    if not isinstance(node, dict):
        return
    _hoist(node)
    _bound_known_formats(node)
    if "integer" in _types(node):
        node.setdefault("format", "int64")  # every integer the API takes or gives fits PostgreSQL's bigint
    for value in node.values():
        _tighten(value)


def _id_parameters(document: dict[str, Any]) -> None:
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") == "path" and parameter.get("name") in _ID_PARAMETERS:
                    schema.setdefault("format", "uuid")
                    schema.setdefault("maxLength", UUID_MAX)


_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "schema": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 86400},
}
# Every answer may carry these two; the descriptions say when they are really there.
_RATE_LIMIT = {
    "description": (
        "The rate limit in force (IETF draft-ietf-httpapi-ratelimit-headers), where one applies: "
        "limits are enforced in front of the service (the edge) and on sign-in; 429 answers carry "
        "`Retry-After`. Absent when no limit applies."
    ),
    "required": False,
    "schema": {"type": "string", "maxLength": 256, "pattern": "^[\\x20-\\x7e]*$"},
}
_NO_CORS = {
    "description": (
        "Not sent: the API answers its own origin only (no CORS), so other sites' scripts cannot "
        "read its answers. Only the Todo-Backend demo sends `*`."
    ),
    "required": False,
    "schema": {"type": "string", "const": "*"},
}
_ANY_ORIGIN = {
    "description": "`*`: the public Todo-Backend demo is open to every origin (no credentials).",
    "required": True,
    "schema": {"type": "string", "const": "*"},
}
_PUBLIC_PREFIX = "/todobackend"
_TAGS = {
    "auth": "Registration, sign-in and sessions",
    "users": "The signed-in user",
    "lists": "Todo lists and the bulk actions on their todos",
    "todos": "Todos: search, read and change",
    "health": "Liveness and readiness probes",
    "todobackend": "The public Todo-Backend demo (todobackend.com), CORS-enabled",
}
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _complete_operation(path: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    responses.setdefault(
        "429",
        {
            "description": "Too many requests: wait for `Retry-After` seconds",
            "headers": {"Retry-After": dict(_RETRY_AFTER)},
            "content": _PROBLEM,
        },
    )
    responses.setdefault("500", {"description": "The server failed; the answer says nothing more", "content": _PROBLEM})
    cors = _ANY_ORIGIN if path.startswith(_PUBLIC_PREFIX) else _NO_CORS
    # A route that documents its own 429 (sign-in's throttle) still says when to come back.
    responses["429"].setdefault("headers", {}).setdefault("Retry-After", dict(_RETRY_AFTER))
    for response in responses.values():
        headers = response.setdefault("headers", {})
        headers.setdefault("RateLimit", dict(_RATE_LIMIT))
        headers.setdefault("Access-Control-Allow-Origin", dict(cors))
    # No security requirement at all reads as "forgotten"; ``[{}]`` says "anonymous on purpose"
    # (sign-up, sign-in, the probes, the public demo).
    if not operation.get("security"):
        operation["security"] = [{}]


def _bound_arrays(document: dict[str, Any], bounds: Mapping[tuple[str, str], int]) -> None:
    """``maxItems`` of bare JSON arrays answered with 200 (Litestar drops it from return types)."""
    for (method, path), most in bounds.items():
        operation = document.get("paths", {}).get(path, {}).get(method.lower())
        if operation is None:
            continue
        for media in operation.get("responses", {}).get("200", {}).get("content", {}).values():
            schema = media.get("schema", {})
            if schema.get("type") == "array":
                schema.setdefault("maxItems", most)


def complete_document(
    document: dict[str, Any], array_bounds: Mapping[tuple[str, str], int] | None = None
) -> dict[str, Any]:
    """The OpenAPI document Litestar generated, completed (a new dict; the input is left alone).

    Constraints move where tools look, ids and date-times get their lengths, and every
    operation documents the answers any request may get (429, 500) and the headers that go
    with them; anonymous operations say so. ``docs/security.md`` has the Spectral result.
    """
    document = copy.deepcopy(document)
    _id_parameters(document)
    _bound_arrays(document, array_bounds or {})
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            if isinstance(item.get(method), dict):
                _complete_operation(path, item[method])
    _tighten(document.get("paths"))
    _tighten(document.get("components"))
    used = sorted(
        {t for item in document.get("paths", {}).values() for m in _METHODS for t in item.get(m, {}).get("tags", [])}
    )
    document["tags"] = [{"name": name, "description": _TAGS.get(name, name)} for name in used]
    document["servers"] = [
        {
            "url": "/",
            "description": "This deployment (production, staging or local): the origin serving this document",
            "x-internal": False,
        }
    ]
    return document


class CompletedJsonRenderPlugin(JsonRenderPlugin):
    """Serves ``complete_document`` of Litestar's document, completed once per app."""

    def __init__(self, array_bounds: Mapping[tuple[str, str], int] | None = None) -> None:
        super().__init__()
        self._array_bounds = dict(array_bounds or {})
        self._completed: bytes | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._completed is None:
            self._completed = self.render_json(request, complete_document(openapi_schema, self._array_bounds))
        return self._completed
