"""JSON Schema of a published layer's properties, from the national schema it follows.

Used for ``/collections/{id}/queryables`` (OGC API Features part 3), ``/schema`` and the
per-property parameters of the OpenAPI document: each published field gets the type it
is stored with and, from the national schema, its French title and description, its
allowed values (``enum``), its pattern and its format. Lists (DAE ``disp_j``, acceslibre
arrays) are ``{"type": "array", "items": {"type": "string", "enum": […]}}``; a list
written as ``a|b|c`` in the source files takes its vocabulary from the schema's pattern.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from layers.catalogue import SchemaRef
from layers.errors import SchemaError
from layers.normalise import is_pipe_multi_value
from layers.schema_model import FieldSpec, NationalSchema
from layers.schemas import load_schema

# Table Schema string formats that JSON Schema shares.
_FORMATS = {"email": "email", "uri": "uri", "uuid": "uuid"}
_GEOMETRY_FORMATS = {
    "Point": "geometry-point", "MultiPoint": "geometry-multipoint",
    "LineString": "geometry-linestring", "MultiLineString": "geometry-multilinestring",
    "Polygon": "geometry-polygon", "MultiPolygon": "geometry-multipolygon",
}
_PLAIN_VALUE = re.compile(r"^[^.*+?\[\]{}()^$\\|]+$")
_GROUP = re.compile(r"\(([^()\\]+)\)")
ID_TITLE = "Identifiant stable de l'entité"


def pipe_vocabulary(pattern: str) -> tuple[str, ...] | None:
    """The values of a ``^(a|b|c){1}(\\|(a|b|c))*$`` pattern, in order (``None`` if not that form)."""
    found: list[str] = []
    for group in _GROUP.findall(pattern):
        for value in group.split("|"):
            if not _PLAIN_VALUE.match(value):
                return None
            if value not in found:
                found.append(value)
    return tuple(found) or None


def _anchored(pattern: str) -> str:
    """Table Schema patterns match the whole value; JSON Schema ones anywhere: anchor them."""
    if pattern.startswith("^") and pattern.endswith("$") and "|" not in pattern:
        return pattern
    return f"^(?:{pattern})$"


def _scalar(kind: str, spec: FieldSpec | None) -> dict[str, Any]:
    if kind == "date":
        return {"type": "string", "format": "date"}
    if kind == "datetime":
        return {"type": "string", "format": "date-time"}
    if kind in ("integer", "number", "boolean", "object"):
        out: dict[str, Any] = {"type": kind}
    else:
        out = {"type": "string"}
    if spec is None:
        return out
    if kind == "string":
        if spec.format in _FORMATS:
            out["format"] = _FORMATS[spec.format]
        if spec.pattern:
            out["pattern"] = _anchored(spec.pattern)
        if spec.min_length is not None:
            out["minLength"] = int(spec.min_length)
        if spec.max_length is not None:
            out["maxLength"] = int(spec.max_length)
    if kind in ("integer", "number"):
        if spec.minimum is not None:
            out["minimum"] = spec.minimum
        if spec.maximum is not None:
            out["maximum"] = spec.maximum
    if spec.enum and kind in ("string", "integer", "number"):
        out["enum"] = list(spec.enum)
    return out


def _array(spec: FieldSpec | None) -> dict[str, Any]:
    items: dict[str, Any] = {"type": "string"}
    if spec is not None:
        if spec.item_type in ("integer", "number", "boolean"):
            items = {"type": spec.item_type}
        values = spec.item_enum
        if not values and is_pipe_multi_value(spec) and spec.pattern:
            values = pipe_vocabulary(spec.pattern)
        if values:
            items["enum"] = list(values)
    return {"type": "array", "items": items}


def property_schema(name: str, kind: str, spec: FieldSpec | None) -> dict[str, Any]:
    """JSON Schema of one published property stored as ``kind``."""
    title = spec.title.strip() if spec and spec.title else (ID_TITLE if name == "id" else name)
    out: dict[str, Any] = {"title": title}
    description = " ".join(spec.description.split()) if spec is not None and spec.description else ""
    if description and description != title:
        out["description"] = description
    out.update(_array(spec) if kind == "array" else _scalar(kind, spec))
    return out


def geometry_schema(geometry_types: list[str] | tuple[str, ...]) -> dict[str, Any]:
    formats = {_GEOMETRY_FORMATS.get(kind, "geometry-any") for kind in geometry_types}
    return {
        "title": "Géométrie",
        "format": formats.pop() if len(formats) == 1 else "geometry-any",
        "x-ogc-role": "primary-geometry",
    }


@lru_cache(maxsize=64)
def _cached_properties(
    field_types: tuple[tuple[str, str], ...], ref: SchemaRef | None, mtime: int
) -> dict[str, dict[str, Any]]:
    schema: NationalSchema | None = load_schema(ref) if ref is not None else None
    specs = {spec.name: spec for spec in schema.fields} if schema is not None else {}
    return {name: property_schema(name, kind, specs.get(name)) for name, kind in field_types}


def properties(field_types: Mapping[str, str], ref: SchemaRef | None) -> dict[str, dict[str, Any]]:
    """Property schemas in publication order (a fresh copy: callers may change them).

    Without a readable national schema, each property gets its stored type only.
    """
    return {name: _copy(value) for name, value in shared_properties(field_types, ref).items()}


def shared_properties(field_types: Mapping[str, str], ref: SchemaRef | None) -> Mapping[str, dict[str, Any]]:
    """The same schemas, shared and cached: for readers that never change them (the
    provider built on every request reads only the property names and types)."""
    mtime = 0
    if ref is not None:
        try:
            mtime = Path(ref.path).stat().st_mtime_ns
        except OSError:
            ref = None
    try:
        cached = _cached_properties(tuple(field_types.items()), ref, mtime)
    except SchemaError:
        cached = _cached_properties(tuple(field_types.items()), None, 0)
    return cached


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
