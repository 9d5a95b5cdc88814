"""What Litestar does not derive on its own from the msgspec structs' schemas.

- ``forbid_unknown_fields`` structs become ``additionalProperties: false``;
- ``Meta(extra_json_schema={"uniqueItems": True})`` on a list becomes ``uniqueItems``;
- constraints on list items (``list[Annotated[str, Meta(...)]]``), which Litestar drops, are kept,
  so that what the schema allows is exactly what the API accepts.
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import Schema

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition

__all__ = ["StrictStructSchemaPlugin"]


class StrictStructSchemaPlugin(StructSchemaPlugin):
    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        struct = field_definition.type_
        if struct.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        for field in msgspec.structs.fields(struct):
            prop = (schema.properties or {}).get(field.encode_name)
            if isinstance(prop, Schema):
                _complete_array(prop, field.type)
        return schema


def _metas(annotation: Any) -> tuple[Any, list[msgspec.Meta]]:
    metas: list[msgspec.Meta] = []
    while get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        metas.extend(m for m in extra if isinstance(m, msgspec.Meta))
        annotation = base
    return annotation, metas


def _list_type(annotation: Any) -> tuple[Any, list[msgspec.Meta]] | None:
    """The list inside ``annotation`` (through Annotated and unions), with its own metadata."""
    annotation, metas = _metas(annotation)
    if get_origin(annotation) in (Union, types.UnionType):
        for member in get_args(annotation):
            found = _list_type(member)
            if found is not None:
                return found
        return None
    if get_origin(annotation) is list:
        return annotation, metas
    return None


def _array_schemas(prop: Schema) -> list[Schema]:
    candidates = [prop, *(s for s in (prop.one_of or []) if isinstance(s, Schema))]
    return [s for s in candidates if s.items is not None]


def _complete_array(prop: Schema, annotation: Any) -> None:
    found = _list_type(annotation)
    if found is None:
        return
    list_type, list_metas = found
    _, item_metas = _metas(get_args(list_type)[0])
    for array in _array_schemas(prop):
        if any((m.extra_json_schema or {}).get("uniqueItems") is True for m in list_metas):
            array.unique_items = True
        items = array.items
        if not isinstance(items, Schema):
            continue
        for meta in item_metas:
            if meta.min_length is not None:
                items.min_length = meta.min_length
            if meta.max_length is not None:
                items.max_length = meta.max_length
            if meta.pattern is not None:
                items.pattern = meta.pattern
