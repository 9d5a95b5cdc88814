"""Strict JSON request bodies: 415, 400 and 422 decided before a handler runs.

Litestar converts bodies leniently (``"1"`` becomes ``1``, ``0`` becomes ``false``); the API
promises JSON types exactly as documented, and one answer that names every bad field.

Nesting is bounded before anything decodes the body: a few hundred ``[`` made every JSON route
raise ``RecursionError`` (a 500 and a 190 KiB traceback per 1 KiB request). No body the API
accepts nests deeper than 2 levels; ``MAX_NESTING`` leaves room and still stays far from
the interpreter's recursion limit.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException

from todostack.domain import FieldError, Invalid

__all__ = ["MAX_NESTING", "is_json", "nests_deeper_than", "validate_body"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
MAX_NESTING = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def nests_deeper_than(body: bytes, limit: int) -> bool:
    """Whether the arrays and objects of a JSON text nest deeper than ``limit`` (brackets inside
    strings do not count).

    Cheap for every body the API expects: with at most ``limit`` opening brackets in all,
    nothing can nest deeper, and those bytes are only counted (in C).
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for bracket in _BRACKETS.findall(_STRING.sub(b"", body)):
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _field_errors(raw: object, struct: type[msgspec.Struct]) -> list[FieldError]:
    if not isinstance(raw, dict):
        return [FieldError("body", "must be a JSON object")]
    errors: list[FieldError] = []
    known = set()
    for f in msgspec.structs.fields(struct):
        known.add(f.encode_name)
        if f.encode_name in raw:
            try:
                msgspec.convert(raw[f.encode_name], f.type, strict=True)
            except msgspec.ValidationError as exc:
                errors.append(FieldError(f.encode_name, str(exc).split(" - at ", 1)[0]))
        elif f.required:
            errors.append(FieldError(f.encode_name, "is required"))
    if struct.__struct_config__.forbid_unknown_fields:
        errors.extend(FieldError(name, "is not a known field") for name in raw if name not in known)
    return errors


async def validate_body(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook for every route that reads a JSON body into a Struct."""
    if request.method not in _BODY_METHODS:
        return
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if data is None or not (isinstance(data.annotation, type) and issubclass(data.annotation, msgspec.Struct)):
        return
    struct = data.annotation
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    if has_body and not is_json(request.headers.get("content-type", "")):
        raise HTTPException(
            status_code=415, detail="send the body as application/json", headers={"Accept-Post": "application/json"}
        )
    body = await request.body()
    if nests_deeper_than(body, MAX_NESTING):
        raise HTTPException(status_code=400, detail=f"the JSON body nests deeper than {MAX_NESTING} levels")
    try:
        raw = _integral_floats_as_ints(msgspec.json.decode(body or b"null"))
    except (msgspec.DecodeError, UnicodeDecodeError):  # a JSON string with bytes that are not UTF-8
        raise HTTPException(status_code=400, detail="the request body is not valid JSON (UTF-8)") from None
    try:
        msgspec.convert(raw, struct, strict=True)
    except msgspec.ValidationError:
        errors = _field_errors(raw, struct)
        raise Invalid(errors or [FieldError("body", "does not match the schema")]) from None


def _integral_floats_as_ints(value: Any) -> Any:
    """JSON Schema counts ``3.0`` as an integer; msgspec's strict mode does not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    return value
