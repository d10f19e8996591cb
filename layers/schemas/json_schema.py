"""JSON Schema over GeoJSON (cycle paths): fields from the feature properties, defects corrected."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
from referencing.exceptions import Unresolvable

from ..errors import SchemaError
from ..schema_model import FieldSpec, NationalSchema
from .common import TABLE_TYPES, Fixer, compile_pattern, names, number, version_note
from .registry import geojson_registry, json_schema_validator_class

# JSON Schema string formats that have a Table Schema type of their own.
_JSON_FORMAT_TYPES = {"date": "date", "date-time": "datetime", "time": "time"}


def _feature_schema(raw: dict[str, Any]) -> dict[str, Any]:
    """``properties.features.items``: the schema of one feature."""
    return ((raw.get("properties") or {}).get("features") or {}).get("items") or {}


def _attributes(raw: dict[str, Any], file: Path) -> dict[str, Any]:
    """The schema of a feature's ``properties`` member, where the fields are."""
    node = (_feature_schema(raw).get("properties") or {}).get("properties")
    if not isinstance(node, dict) or not isinstance(node.get("properties"), dict):
        raise SchemaError("structure inattendue : les propriétés des objets (properties.features.items"
                          ".properties.properties) sont introuvables", file=file)
    return node


def _note_metadata(raw: dict[str, Any], file: Path) -> list[str]:
    notes = []
    if "$schema" not in raw:
        notes.append("le schéma ne déclare pas sa version de JSON Schema ($schema) ; il est lu en Draft 7, "
                     "celle des schémas GeoJSON qu'il référence.")
    meta = _metadata(raw)
    if meta and meta is not raw:
        stale = re.search(r"/(\d+\.\d+\.\d+)/", str(meta.get("path", "")))
        where = (f" ; leur chemin (« path ») désigne encore la version {stale.group(1)}"
                 if stale and stale.group(1) != str(meta.get("version")) else "")
        notes.append(f"les métadonnées du schéma (nom, version…) sont rangées dans « allOf » à côté de la "
                     f"référence GeoJSON{where}.")
    return notes


def _fix_unanchored_patterns(raw: dict[str, Any], file: Path) -> list[str]:
    """aménagements cyclables: JSON Schema patterns search anywhere; "^…" without "$" lets "75107X" through."""
    anchored = []
    for name, prop in _attributes(raw, file)["properties"].items():
        pattern = prop.get("pattern") if isinstance(prop, dict) else None
        if isinstance(pattern, str) and pattern.startswith("^") and not re.search(r"(?<!\\)\$$", pattern):
            prop["pattern"] = pattern + "$"
            anchored.append(name)
    if not anchored:
        return []
    return [f"champs {names(anchored)} : motif sans ancre de fin « $ », qui accepterait par exemple "
            f"« 75107X » ; ancré en fin de valeur."]


def _check_offline_refs(raw: dict[str, Any], file: Path) -> list[str]:
    cls = json_schema_validator_class(raw)
    try:
        cls.check_schema(raw)
    except jsonschema.SchemaError as exc:
        raise SchemaError(f"JSON Schema invalide : {exc.message}", file=file) from None
    notes = []
    for ref in sorted(set(_external_refs(raw))):
        try:
            geojson_registry().resolver().lookup(ref)
        except Unresolvable:
            raise SchemaError(f"référence externe « {ref} » sans copie locale (config/schemas/geojson/) : "
                              f"impossible de la résoudre hors ligne", file=file) from None
        notes.append(f"la référence externe {ref} est résolue hors ligne avec la copie locale "
                     f"config/schemas/geojson/, écrite d'après la RFC 7946.")
    return notes


def _note_open_geometry(raw: dict[str, Any], file: Path) -> list[str]:
    if "geometry" in (_feature_schema(raw).get("properties") or {}):
        return []
    return ["le schéma ne contraint pas le type de géométrie ; geocommune vérifie que chaque objet "
            "est une LineString ou une MultiLineString."]


_JSON_FIXERS: tuple[Fixer, ...] = (_note_metadata, _fix_unanchored_patterns, _check_offline_refs,
                                   _note_open_geometry)


def _metadata(raw: dict[str, Any]) -> dict[str, Any]:
    """Schema metadata (name, version, path…): top level, or beside the $ref in allOf (cycle paths)."""
    if "version" in raw:
        return raw
    return next((part for part in raw.get("allOf", []) if isinstance(part, dict) and "version" in part), {})


def _external_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) and "://" in node["$ref"] else []
        return found + [r for value in node.values() for r in _external_refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _external_refs(value)]
    return []


def load_json_schema(document: dict[str, Any], file: Path, name: str, version: str) -> NationalSchema:
    raw = copy.deepcopy(document)
    attributes = _attributes(raw, file)
    defects = version_note(_metadata(raw).get("version"), version)
    for fixer in _JSON_FIXERS:
        defects.extend(fixer(raw, file))
    required = set(attributes.get("required") or [])
    fields = [_json_field(n, p, n in required, file) for n, p in attributes["properties"].items()]
    return NationalSchema(name=name, version=version, kind="json-schema", fields=fields, raw=raw, defects=defects)


def _json_field(name: str, prop: Any, required: bool, file: Path) -> FieldSpec:
    if not isinstance(prop, dict):
        raise SchemaError("description de propriété invalide", file=file, field=name)
    kind = prop.get("type", "any")
    if isinstance(kind, list):  # e.g. ["string", "null"]: the first non-null type
        kind = next((k for k in kind if k != "null"), "any")
    fmt = prop.get("format")
    if kind == "string" and fmt in _JSON_FORMAT_TYPES:
        kind, fmt = _JSON_FORMAT_TYPES[fmt], None
    if kind not in TABLE_TYPES:
        raise SchemaError(f"type « {kind} » non pris en charge", file=file, field=name)
    items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
    return FieldSpec(
        name=name, type=kind, format=fmt, title=prop.get("title"), description=prop.get("description"),
        required=required, pattern=compile_pattern(prop.get("pattern"), file, name),
        enum=tuple(prop["enum"]) if isinstance(prop.get("enum"), list) else None,
        minimum=number(prop.get("minimum"), file, name, "minimum"),
        maximum=number(prop.get("maximum"), file, name, "maximum"),
        item_type=items.get("type"), item_enum=tuple(items["enum"]) if items.get("enum") else None,
        min_length=prop.get("minLength", prop.get("minItems")),
        max_length=prop.get("maxLength", prop.get("maxItems")),
    )
