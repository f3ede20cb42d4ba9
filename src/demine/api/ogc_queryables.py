"""The queryables of a collection (OGC API - Features Part 3): what a caller's role may filter
on, and its JSON Schema (``/collections/{id}/queryables``)."""

from __future__ import annotations

from typing import Any

from demine.model.kinds import Kind
from demine.model.schema import FieldSpec, FieldType
from demine.services.access import can_read_field


def queryable_fields(kind: Kind, role: str) -> dict[str, FieldSpec]:
    return {f.name: f for f in kind.fields if can_read_field(f.access, role)}


_JSON_TYPES: dict[FieldType, dict[str, Any]] = {
    FieldType.TEXT: {"type": "string"},
    FieldType.INTEGER: {"type": "integer"},
    FieldType.REAL: {"type": "number"},
    FieldType.BOOLEAN: {"type": "boolean"},
    FieldType.DATE: {"type": "string", "format": "date"},
    FieldType.DATETIME: {"type": "string", "format": "date-time"},
    FieldType.ENUM: {"type": "string"},
    FieldType.ENUM_LIST: {"type": "string"},
    FieldType.UUID: {"type": "string", "format": "uuid"},
}

_GEOMETRY_FORMAT = {
    "POINT": "geometry-point",
    "MULTIPOINT": "geometry-multipoint",
    "MULTIPOLYGON": "geometry-multipolygon",
    "MULTILINESTRING": "geometry-multilinestring",
}


def field_schema(f: FieldSpec) -> dict[str, Any]:
    s: dict[str, Any] = {"title": f.name, **_JSON_TYPES[f.type]}
    if f.description:
        s["description"] = f.description
    if f.type is FieldType.ENUM and f.choices:
        s["enum"] = list(f.choices)
    if f.type is FieldType.ENUM_LIST and f.choices:
        s["description"] = f"{f.description}; comma-separated values from: {', '.join(f.choices)}"
    if f.minimum is not None:
        s["minimum"] = f.minimum
    if f.maximum is not None:
        s["maximum"] = f.maximum
    if f.unit:
        s["x-ogc-unit"] = f.unit
    if f.derived:
        s["readOnly"] = True
    return s


def queryables_schema(kind: Kind, role: str, url: str) -> dict[str, Any]:
    """The JSON Schema of what this role may filter on in this collection."""
    props: dict[str, Any] = {}
    if kind.geometry_type:
        props["geometry"] = {
            "title": "geometry",
            "format": _GEOMETRY_FORMAT.get(kind.geometry_type, "geometry-any"),
        }
    for name, f in queryable_fields(kind, role).items():
        props[name] = field_schema(f)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": kind.title,
        "properties": props,
        "additionalProperties": False,
    }
