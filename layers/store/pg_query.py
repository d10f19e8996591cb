"""Queries on one PostGIS layer: the filter tree, bbox and sort compiled to SQL.

Mirrors ``gpkg_query`` exactly (same validation, same messages, same results), with the
values always bound as parameters, never formatted into the SQL. The statements that use
these clauses are in ``pg_read``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import shapely

from .base import And, BBox, Comparison, InvalidQueryError, Not, Or, Spatial, Where
from .pg_spatial import spatial_clause

_SQL_OPS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_TRUE = {"true", "1", "yes", "oui", "vrai"}
_FALSE = {"false", "0", "no", "non", "faux"}

# Field type → PostgreSQL column type. Text is compared and sorted byte-wise (COLLATE "C"),
# as SQLite does, whatever the database's locale: "Zoé" < "abbaye", "B" < "a".
SQL_TYPES = {
    "string": 'text COLLATE "C"',
    "integer": "bigint",
    "number": "double precision",
    "boolean": "boolean",
    "date": "date",
    "datetime": "timestamptz",
    "array": "jsonb",
    # json, not jsonb: an object keeps its key order, as in the GeoPackage's JSON text.
    "object": "json",
}
JSON_KINDS = ("array", "object")


def sql_type(kind: str) -> str:
    return SQL_TYPES.get(kind, SQL_TYPES["string"])


def ident(name: str) -> str:
    """A quoted SQL identifier, safe inside a psycopg query (``%`` doubled)."""
    return '"' + name.replace('"', '""').replace("%", "%%") + '"'


def text_expression(column: str, kind: str) -> str:
    """How a column is served (and matched by LIKE): the text the GeoPackage store holds."""
    if kind == "date":
        return f"to_char({column}, 'YYYY-MM-DD')"
    if kind == "datetime":
        utc = f"({column} AT TIME ZONE 'UTC')"
        return (
            f"CASE WHEN date_part('milliseconds', {column})::numeric % 1000 = 0 "
            f"THEN to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
            f"ELSE to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') END"
        ).replace("%", "%%")
    if kind in JSON_KINDS:
        return f"{column}::text"
    return column


@dataclass
class LayerInfo:
    """What a query needs to know of a published layer (from its metadata row)."""

    table: str  # schema-qualified, quoted
    version: str
    metadata: dict[str, Any]
    columns: tuple[str, ...]  # attribute columns in table order ("id" included)
    field_types: dict[str, str] = field(default_factory=dict)


# -- values -------------------------------------------------------------------------


def _invalid(name: str, kind: str, value: Any) -> InvalidQueryError:
    return InvalidQueryError(f"valeur « {value} » invalide pour le champ « {name} » de type {kind}", field=name)


def coerce(layer: LayerInfo, name: str, value: Any) -> Any:
    """A query value (often text from a URL) → a Python value of the column's type."""
    kind = layer.field_types.get(name, "string")
    if value is None:
        return None
    try:
        if kind == "integer":
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float):  # a typed literal (CQL2): compared as a number, rang < 2.5
                return value
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if kind == "number":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError
        if kind == "date":
            if isinstance(value, dt.datetime):
                return value.date()
            if isinstance(value, dt.date):
                return value
            return dt.date.fromisoformat(str(value).strip())
        if kind == "datetime":
            moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).strip())
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    except (TypeError, ValueError, OverflowError):
        raise _invalid(name, kind, value) from None
    if kind in JSON_KINDS:
        raise InvalidQueryError(
            f"le champ « {name} » est une liste : seuls les tests de nullité s'y appliquent", field=name
        )
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def column(layer: LayerInfo, name: str) -> str:
    if name not in layer.columns:
        raise InvalidQueryError(
            f"propriété inconnue « {name} » ; propriétés de la couche : {', '.join(layer.columns)}",
            field=name,
        )
    return ident(name)


# -- WHERE ------------------------------------------------------------------------------


def compile_where(layer: LayerInfo, node: Where, params: list[Any]) -> str:
    if isinstance(node, (And, Or)):
        if not node.items:
            return "TRUE" if isinstance(node, And) else "FALSE"
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(compile_where(layer, item, params) for item in node.items) + ")"
    if isinstance(node, Not):
        # SQL's three-valued NOT: a feature without geometry satisfies neither a spatial
        # predicate nor its negation, as in the GeoPackage store (which pushes NOT down).
        return f"(NOT {compile_where(layer, node.item, params)})"
    if isinstance(node, Spatial):
        return spatial_clause(node, params)
    if not isinstance(node, Comparison):
        raise InvalidQueryError(f"expression de filtre non prise en charge : {node!r}")
    col = column(layer, node.property)
    kind = layer.field_types.get(node.property, "string")
    op = node.op
    if op == "isnull":
        return f"({col} IS NULL)"
    if op == "=" and kind == "array" and isinstance(node.value, str):
        # property=value on a list (jours=lundi): the list holds the value. A missing list
        # holds nothing (false, not unknown: NOT keeps it, as SQLite's EXISTS does).
        params.append(node.value)
        return f"COALESCE({col} @> jsonb_build_array(%s::text), FALSE)"
    if op in _SQL_OPS:
        params.append(coerce(layer, node.property, node.value))
        return f"({col} {_SQL_OPS[op]} %s)"
    if op == "like":
        if kind not in ("string", "date", "datetime"):
            raise InvalidQueryError(f"LIKE ne s'applique qu'aux textes (champ « {node.property} »)")
        params.append(str(node.value))
        return f"({text_expression(col, kind)} LIKE %s ESCAPE E'\\\\')"
    if op == "in":
        values = [coerce(layer, node.property, v) for v in node.value]
        if not values:
            return "FALSE"
        params.extend(values)
        return f"({col} IN ({', '.join(['%s'] * len(values))}))"
    if op == "between":
        low, high = node.value
        params.extend([coerce(layer, node.property, low), coerce(layer, node.property, high)])
        return f"({col} BETWEEN %s AND %s)"
    raise InvalidQueryError(f"opérateur de filtre non pris en charge : {op}")


def normalise_bboxes(bbox: BBox) -> list[tuple[float, float, float, float]]:
    """Same rules and messages as ``gpkg_query._normalise_bboxes``."""
    values = [float(v) for v in bbox]
    if len(values) == 6:  # minx, miny, minz, maxx, maxy, maxz: the store is 2D
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4:
        raise InvalidQueryError("bbox attend 4 valeurs : ouest, sud, est, nord")
    minx, miny, maxx, maxy = values
    if miny > maxy:
        raise InvalidQueryError("bbox : le sud doit être inférieur au nord")
    if minx > maxx:  # crosses the antimeridian: two boxes
        return [(minx, miny, 180.0, maxy), (-180.0, miny, maxx, maxy)]
    return [(minx, miny, maxx, maxy)]


def _covers(outer: tuple[float, float, float, float], inner: Sequence[float] | None) -> bool:
    return inner is not None and outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def box_geometry(box: tuple[float, float, float, float]) -> bytes:
    """The box as WKB. A box of zero width or height is a line (or a point): GEOS's answer
    for a degenerate polygon, made explicit so that PostGIS's point-in-polygon shortcut
    cannot disagree with it."""
    minx, miny, maxx, maxy = box
    if minx == maxx and miny == maxy:
        geometry = shapely.Point(minx, miny)
    elif minx == maxx or miny == maxy:
        geometry = shapely.LineString([(minx, miny), (maxx, maxy)])
    else:
        geometry = shapely.box(minx, miny, maxx, maxy)
    return shapely.to_wkb(geometry)


def _bbox_clause(layer: LayerInfo, box: tuple[float, float, float, float], params: list[Any]) -> tuple[str, bool]:
    """``geom`` intersects the box (edges included); True when the box holds the whole layer."""
    if _covers(box, layer.metadata.get("extent")):
        return '("geom" IS NOT NULL)', True
    params.extend([*box, box_geometry(box)])
    return ('("geom" && ST_MakeEnvelope(%s, %s, %s, %s, 4326) '
            'AND ST_Intersects("geom", ST_GeomFromWKB(%s, 4326)))'), False


@dataclass
class Compiled:
    where: str  # " WHERE …" or ""
    params: list[Any]
    whole_geometries: bool = False  # the only criterion is a bbox holding the whole layer


def build_where(
    layer: LayerInfo,
    *,
    bbox: BBox | None,
    properties: Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
    where: Where | None,
) -> Compiled:
    clauses: list[str] = []
    params: list[Any] = []
    if properties:
        items = properties.items() if isinstance(properties, Mapping) else properties
        for name, value in items:
            clauses.append(compile_where(layer, Comparison(name, "=", value), params))
    if where is not None:
        clauses.append(compile_where(layer, where, params))
    whole = False
    if bbox is not None and len(bbox) > 0:
        boxes = normalise_bboxes(bbox)
        compiled = [_bbox_clause(layer, box, params) for box in boxes]
        clauses.append(compiled[0][0] if len(compiled) == 1 else "(" + " OR ".join(c for c, _ in compiled) + ")")
        whole = len(compiled) == 1 and len(clauses) == 1 and compiled[0][1]
    return Compiled((" WHERE " + " AND ".join(clauses)) if clauses else "", params, whole)


def order_by(layer: LayerInfo, sortby: Sequence[str] | None, prefix: str = "") -> str:
    keys: list[str] = []
    for key in sortby or ():
        descending = key.startswith("-")
        name = key[1:] if key[:1] in "+-" else key
        col = prefix + column(layer, name)
        if layer.field_types.get(name) in JSON_KINDS:  # json has no order: its text, as SQLite
            col = f'{col}::text COLLATE "C"'
        keys.append(f"{col} {'DESC' if descending else 'ASC'} NULLS LAST")
    keys.append(prefix + '"fid"')  # stable order: paging never repeats or skips a feature
    return " ORDER BY " + ", ".join(keys)


def selected_columns(layer: LayerInfo, select: Sequence[str] | None) -> list[str]:
    attributes = [c for c in layer.columns if c != "id"]
    if not select:
        return attributes
    for name in select:
        column(layer, name)
    wanted = set(select)
    return [c for c in attributes if c in wanted]
