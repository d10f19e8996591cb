"""Validate GeoJSON features against a JSON Schema (the cycle-path schema).

``jsonschema`` does the judging, with the draft the schema declares (Draft 7 when it
declares none) and its ``$ref`` to geojson.org resolved offline from our copy.

A feature costs about a millisecond in ``jsonschema``; a department's cycle network
has tens of thousands. When the schema judges each attribute on its own (only
``properties`` and ``required``, as the cycle-path schema does), each *distinct value*
of a column is validated once against its property's sub-schema and the verdict is
spread over the rows holding it: same errors, a few hundred calls instead of a million.
Any other schema shape falls back to one validator call per feature. The geometry was
built by our reader, so its structure is sound; its type is checked on the whole
GeoSeries (the schema leaves it open).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any, Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from jsonschema import ValidationError
from jsonschema.protocols import Validator

from ..errors import SchemaError
from ..report import Problem
from ..schema_model import FieldSpec, NationalSchema
from ..schemas import geojson_registry, json_schema_validator_class
from . import messages
from .celltypes import loads_json

LINE_TYPES = ("LineString", "MultiLineString")  # aménagements cyclables are lines
_RULES = {"type": "type", "format": "type", "enum": "enum", "pattern": "pattern", "required": "required",
          "minimum": "minimum", "maximum": "maximum", "minLength": "min-length", "maxLength": "max-length",
          "minItems": "min-length", "maxItems": "max-length", "uniqueItems": "unique"}
_JSON_TYPES = {"string": "texte", "number": "nombre", "integer": "nombre entier", "boolean": "booléen",
               "array": "liste", "object": "objet", "null": "valeur nulle"}
# Keywords that judge the attributes one by one; anything else (additionalProperties,
# dependencies, if/then, allOf…) may relate attributes, and needs whole features.
_SEPARABLE_PROPERTIES = {"type", "properties", "required", "title", "description", "$comment", "examples"}
_SEPARABLE_FEATURE = {"type", "properties", "required", "title", "description", "$comment", "examples"}
_MISSING = object()


def validate_features(
    frame: pd.DataFrame, geometry: gpd.GeoSeries, schema: NationalSchema, row_numbers: np.ndarray
) -> list[Problem]:
    if schema.kind != "json-schema":
        raise SchemaError(f"le schéma {schema.name} n'est pas un JSON Schema : utiliser validate_frame")
    rows = np.asarray(row_numbers)
    if not (len(rows) == len(frame) == len(geometry)):
        raise ValueError("frame, geometry and row_numbers must have the same length")
    cls = json_schema_validator_class(schema.raw)
    validator = cls(schema.raw, registry=geojson_registry(), format_checker=cls.FORMAT_CHECKER)
    feature_schema = (schema.raw.get("properties") or {}).get("features", {}).get("items", {})
    properties_schema = (feature_schema.get("properties") or {}).get("properties", {})
    required = [name for name in properties_schema.get("required", []) if isinstance(name, str)]

    problems = _geometry_problems(geometry, rows)
    # A required attribute absent from the whole file is one problem, as for tables.
    problems += [messages.missing_column(name) for name in required if name not in frame.columns]
    if _separable(feature_schema, properties_schema):
        problems += _validate_columns(frame, schema, validator, properties_schema, required, rows)
    else:
        problems += _validate_each_feature(frame, geometry, schema, validator, rows)
    problems.sort(key=lambda p: (-1 if p.row is None else p.row, p.field or ""))
    return problems


def _separable(feature_schema: dict[str, Any], properties_schema: dict[str, Any]) -> bool:
    members = feature_schema.get("properties") or {}
    return (set(feature_schema) <= _SEPARABLE_FEATURE and set(members) <= {"properties"}
            and set(properties_schema) <= _SEPARABLE_PROPERTIES
            and properties_schema.get("type", "object") == "object")


# -- column path ------------------------------------------------------------------------
def _validate_columns(frame: pd.DataFrame, schema: NationalSchema, validator: Validator,
                      properties_schema: dict[str, Any], required: list[str], rows: np.ndarray) -> list[Problem]:
    problems: list[Problem] = []
    specs = {spec.name: spec for spec in schema.fields}
    for name, subschema in (properties_schema.get("properties") or {}).items():
        if name not in frame.columns:
            continue
        codes, values = _distinct(frame[name], specs.get(name))
        if name in required:
            problems += [messages.problem("required", messages.REQUIRED, rows[i], name)
                         for i in np.flatnonzero(codes < 0)]
        check = validator.evolve(schema=subschema)
        verdicts = {code: _deduplicated(p for error in check.iter_errors(value)
                                        for p in _translate(error, None, name))
                    for code, value in enumerate(values)}
        bad = [code for code, found in verdicts.items() if found]
        for i in np.flatnonzero(np.isin(codes, bad)):
            problems += [messages.problem(p.rule, p.message, rows[i], name, p.value) for p in verdicts[codes[i]]]
    return problems


def _distinct(series: pd.Series, spec: FieldSpec | None) -> tuple[np.ndarray, list[Any]]:
    """Per row, the code of its JSON value (-1: missing), and the distinct values."""
    if series.dtype != object:  # one type per column: factorize in C, convert only the distinct values
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        return np.asarray(codes), [_json_value(value, spec) for value in uniques]
    keys: list[str | None] = []
    values: dict[str, Any] = {}
    for cell in series.to_numpy(dtype=object):  # lists or mixed types: one conversion per cell
        value = _json_value(cell, spec)
        if value is _MISSING:
            keys.append(None)
            continue
        key = json.dumps(value, sort_keys=True, default=str)  # "3" and 3 stay apart
        values.setdefault(key, value)
        keys.append(key)
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=True)
    return np.asarray(codes), [values[key] for key in uniques]


# -- per-feature path ---------------------------------------------------------------------
def _validate_each_feature(frame: pd.DataFrame, geometry: gpd.GeoSeries, schema: NationalSchema,
                           validator: Validator, rows: np.ndarray) -> list[Problem]:
    specs = {spec.name: spec for spec in schema.fields}
    shapes = [None if g is None else json.loads(g) for g in shapely.to_geojson(np.asarray(geometry.values))]
    problems: list[Problem] = []
    columns = list(frame.columns)
    for position, cells in enumerate(frame.itertuples(index=False, name=None)):
        properties = {}
        for name, cell in zip(columns, cells):
            value = _json_value(cell, specs.get(name))
            if value is not _MISSING:  # an absent or null attribute is "missing"
                properties[name] = value
        feature = {"type": "Feature", "geometry": shapes[position], "properties": properties}
        found = []
        for error in validator.iter_errors({"type": "FeatureCollection", "features": [feature]}):
            path = list(error.absolute_path)
            field = str(path[3]) if len(path) >= 4 and path[2] == "properties" else None
            found += _translate(error, rows[position], field)
        problems += [p for p in _deduplicated(found) if not (p.rule == "required" and p.field not in frame.columns)]
    return problems


# -- shared -----------------------------------------------------------------------------
def _geometry_problems(geometry: gpd.GeoSeries, rows: np.ndarray) -> list[Problem]:
    kinds = geometry.geom_type.to_numpy(dtype=object)
    present = pd.notna(kinds)
    # Missing geometries are the reader's and normaliser's business (rule geometry-missing).
    wrong = np.flatnonzero(present & ~np.isin(kinds.astype(str), LINE_TYPES))
    return [
        messages.problem("geometry-type", f"géométrie de type {kinds[i]} ; une LineString ou une "
                         f"MultiLineString est attendue", rows[i], None, kinds[i])
        for i in wrong
    ]


def _json_value(value: Any, spec: FieldSpec | None) -> Any:
    """One cell as the JSON value its GeoJSON would hold; ``_MISSING`` for an empty cell."""
    if value is None or value is pd.NA or value is pd.NaT:
        return _MISSING
    if isinstance(value, float) and math.isnan(value):
        return _MISSING
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return _json_value(value.item(), spec)
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        if spec is not None and spec.type == "date":
            return value.date().isoformat() if isinstance(value, dt.datetime) else value.isoformat()
        return value.isoformat()
    if isinstance(value, str) and spec is not None and spec.type == "array" and value.lstrip().startswith("["):
        try:  # a list written as JSON text (GeoPackage, Shapefile) is that list
            return loads_json(value)
        except ValueError:
            return value
    return value


def _deduplicated(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[tuple[str | None, str]] = set()
    out = []
    for problem in problems:
        if (problem.field, problem.rule) not in seen:
            seen.add((problem.field, problem.rule))
            out.append(problem)
    return out


def _translate(error: ValidationError, row: Any, field: str | None) -> list[Problem]:
    rule = _RULES.get(str(error.validator), str(error.validator))
    if error.validator == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [name for name in error.validator_value if name not in instance]
        return [messages.problem("required", messages.REQUIRED, row, name) for name in missing]
    value = error.instance
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if error.validator == "type":
        expected = error.validator_value
        expected = [expected] if isinstance(expected, str) else list(expected)
        label = " ou ".join(_JSON_TYPES.get(t, t) for t in expected)
        actual = _JSON_TYPES.get(_json_type(value), "valeur")
        message = f"{messages.quote(shown)} est de type {actual} ; {label} attendu"
        if isinstance(value, str) and expected[0] in ("number", "integer"):
            message += " (sans guillemets)"
    elif error.validator == "enum":
        message = messages.not_allowed(shown, error.validator_value)
    elif error.validator == "pattern":
        message = messages.pattern_mismatch(shown, error.validator_value)
    elif error.validator == "format":
        message = (f"{messages.quote(shown)} n'est pas une date au format AAAA-MM-JJ"
                   if error.validator_value == "date"
                   else f"{messages.quote(shown)} n'est pas au format {error.validator_value} attendu")
    elif error.validator in ("minimum", "maximum"):
        bound = float(error.validator_value)
        message = messages.below(shown, bound) if error.validator == "minimum" else messages.above(shown, bound)
    else:
        message = f"non conforme au schéma ({error.validator}) : {error.message}"
    return [messages.problem(rule, message, row, field, shown)]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
