"""Queries on one open GeoPackage layer: bbox through the R-tree, filters, sort, page, count.

Everything is compiled to one parameterised SQL ``WHERE`` clause, so that the page
(``LIMIT``) and ``numberMatched`` (``count(*)``) are computed by SQLite on the same
criteria. What makes this cheap on large layers:

- ``numberMatched`` comes from the GeoPackage's feature count when nothing filters, from
  the R-tree when only a bbox does, and is computed once per query and open file
  otherwise (``LayerCache``): walking the pages of a filtered query counts once;
- deep pages in the default order (feature id) are reached by seeking on the id
  (keyset) rather than ``OFFSET``, which reads and discards every row before the page:
  by arithmetic when the ids are dense (a published file is written once, ids 1…n) and
  nothing filters, otherwise from the last id of the pages already served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import orjson
import shapely

from .base import And, BBox, Comparison, InvalidQueryError, Not, Or, QueryResult, Spatial, Where
from .gpkg_reader import CELL_DECODERS, OpenLayer, decode_geometries, quote
from .gpkg_paging import count_all, number_matched, page_in_id_order, query_key
from .gpkg_paging import SORTED_IDS_FROM, CompiledBox, page_of_box
from .gpkg_spatial import spatial_clause

__all__ = ["build_where", "count_all", "get_feature", "materialise", "run_query", "selected_columns"]

_SQL_OPS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_TRUE = {"true", "1", "yes", "oui", "vrai"}
_FALSE = {"false", "0", "no", "non", "faux"}


# -- values -------------------------------------------------------------------------


def _coerce(layer: OpenLayer, name: str, value: Any) -> Any:
    """A query value (often text from a URL) → the type stored in the column."""
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
                return int(value)
            text = str(value).strip().lower()
            if text in _TRUE:
                return 1
            if text in _FALSE:
                return 0
            raise ValueError
    except (TypeError, ValueError):
        raise InvalidQueryError(
            f"valeur « {value} » invalide pour le champ « {name} » de type {kind}", field=name
        ) from None
    if kind in ("array", "object"):
        raise InvalidQueryError(
            f"le champ « {name} » est une liste : seuls les tests de nullité s'y appliquent", field=name
        )
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _column(layer: OpenLayer, name: str) -> str:
    if name not in layer.columns:
        raise InvalidQueryError(
            f"propriété inconnue « {name} » ; propriétés de la couche : {', '.join(layer.columns)}",
            field=name,
        )
    return quote(name)


# -- WHERE ------------------------------------------------------------------------------


def _compile_where(layer: OpenLayer, node: Where, params: list[Any], negated: bool = False) -> str:
    """SQL for ``node`` (for ``NOT node`` when ``negated``).

    NOT is pushed down to the leaves (De Morgan holds in SQL's three-valued logic), so
    that a spatial predicate is always compiled as a plain id test that SQLite answers
    by id lookups, never by a scan (see ``spatial_clause``). Comparisons keep SQL's own
    ``NOT`` and NULL semantics.
    """
    if isinstance(node, And) or isinstance(node, Or):
        conjunction = isinstance(node, And) != negated  # NOT (a AND b) = NOT a OR NOT b
        if not node.items:
            return "1" if conjunction else "0"
        joiner = " AND " if conjunction else " OR "
        return "(" + joiner.join(_compile_where(layer, item, params, negated) for item in node.items) + ")"
    if isinstance(node, Not):
        return _compile_where(layer, node.item, params, not negated)
    if isinstance(node, Spatial):
        return spatial_clause(layer, node, params, negated)
    if not isinstance(node, Comparison):
        raise InvalidQueryError(f"expression de filtre non prise en charge : {node!r}")
    sql = _compile_comparison(layer, node, params)
    return f"(NOT {sql})" if negated else sql


def _compile_comparison(layer: OpenLayer, node: Comparison, params: list[Any]) -> str:
    column = _column(layer, node.property)
    op = node.op
    if op == "isnull":
        return f"({column} IS NULL)"
    if op == "=" and layer.field_types.get(node.property) == "array" and isinstance(node.value, str):
        # property=value on a list (jours=lundi): the list holds the value.
        params.append(node.value)
        return f"(EXISTS (SELECT 1 FROM json_each({column}) WHERE value = ?))"
    if op in _SQL_OPS:
        params.append(_coerce(layer, node.property, node.value))
        return f"({column} {_SQL_OPS[op]} ?)"
    if op == "like":
        if layer.field_types.get(node.property, "string") not in ("string", "date", "datetime"):
            raise InvalidQueryError(f"LIKE ne s'applique qu'aux textes (champ « {node.property} »)")
        params.append(str(node.value))
        return f"({column} LIKE ? ESCAPE '\\')"
    if op == "in":
        values = [_coerce(layer, node.property, v) for v in node.value]
        if not values:
            return "0"
        params.extend(values)
        return f"({column} IN ({', '.join('?' * len(values))}))"
    if op == "between":
        low, high = node.value
        params.extend([_coerce(layer, node.property, low), _coerce(layer, node.property, high)])
        return f"({column} BETWEEN ? AND ?)"
    raise InvalidQueryError(f"opérateur de filtre non pris en charge : {op}")


def _normalise_bboxes(bbox: BBox) -> list[tuple[float, float, float, float]]:
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


@dataclass
class _Sql:
    """A compiled WHERE clause, and the match count when the bbox alone already gives it."""

    where: str
    params: list[Any]
    known_count: int | None = None


def _covers(outer: tuple[float, float, float, float], inner: Sequence[float] | None) -> bool:
    return inner is not None and outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def _bbox_clause(layer: OpenLayer, box: tuple[float, float, float, float], params: list[Any]) -> tuple[str, int]:
    """Exact "intersects the box" on top of the R-tree; returns (SQL, number of matches).

    The R-tree stores 32-bit float boxes rounded outwards, so it answers exactly only
    for entries wholly inside the query box; the entries that cross its edges (border
    points, long lines) are checked with shapely on their real geometry. Which SQL form
    is used depends on how many entries are inside: SQLite materialises an ``IN
    (subquery)`` set, so for a box holding most of the layer we name the (few) entries
    outside it instead. The compiled clause is remembered per box and open file: the
    R-tree walks behind it cost as much as the page itself at city scale.
    """
    geom = quote(layer.geometry_column)
    if _covers(box, layer.metadata.get("extent")):
        # The box holds the whole layer: every feature with a geometry matches.
        total = layer.metadata.get("geometry_count")
        if total is None:
            total = layer.execute(f"SELECT count(*) FROM {quote(layer.table)} WHERE {geom} IS NOT NULL")[0][0]
        return f"({geom} IS NOT NULL)", int(total)
    if layer.rtree is None:
        raise InvalidQueryError(f"la couche « {layer.table} » n'a pas d'index spatial")
    compiled = _compiled_box(layer, box)
    params.extend(compiled.params)
    return compiled.clause, compiled.count


def _compiled_box(layer: OpenLayer, box: tuple[float, float, float, float]) -> CompiledBox:
    return layer.cache.get_or_compute(("bbox", tuple(map(float, box))), lambda: _compile_box(layer, box))


def _single_box(bbox: BBox | None) -> tuple[float, float, float, float] | None:
    if bbox is None or not len(bbox):
        return None
    boxes = _normalise_bboxes(bbox)
    return boxes[0] if len(boxes) == 1 else None


# Entries that overlap the box without being inside it cross one of its four edges. Asking
# for each edge separately keeps every condition an R-tree constraint, so SQLite walks only
# the nodes along the edges; "overlap AND NOT inside" would walk every entry in the box.
_EDGE_CROSSINGS = (
    "minx < ? AND maxx >= ? AND miny <= ? AND maxy >= ?",  # west edge: (x0, x0, y1, y0)
    "maxx > ? AND minx <= ? AND miny <= ? AND maxy >= ?",  # east edge: (x1, x1, y1, y0)
    "miny < ? AND maxy >= ? AND minx <= ? AND maxx >= ?",  # south edge: (y0, y0, x1, x0)
    "maxy > ? AND miny <= ? AND minx <= ? AND maxx >= ?",  # north edge: (y1, y1, x1, x0)
)


def _compile_box(layer: OpenLayer, box: tuple[float, float, float, float]) -> CompiledBox:
    geom, fid, rtree = quote(layer.geometry_column), quote(layer.fid_column), quote(layer.rtree or "")
    minx, miny, maxx, maxy = box
    edges = " UNION ".join(f"SELECT id FROM {rtree} WHERE {crossing}" for crossing in _EDGE_CROSSINGS)
    edge_params = [minx, minx, maxy, miny, maxx, maxx, maxy, miny, miny, miny, maxx, minx, maxy, maxy, maxx, minx]
    border = layer.execute(
        f"SELECT t.{fid}, t.{geom} FROM {quote(layer.table)} t WHERE t.{fid} IN ({edges})", edge_params
    )
    hits: list[int] = []
    if border:
        fids, blobs = zip(*border)
        keep = shapely.intersects(decode_geometries(blobs), shapely.box(minx, miny, maxx, maxy))
        hits = np.asarray(fids)[keep].tolist()
    inside = "minx >= ? AND maxx <= ? AND miny >= ? AND maxy <= ?"
    inside_params: list[Any] = [minx, maxx, miny, maxy]
    inside_count = layer.execute(f"SELECT count(*) FROM {rtree} WHERE {inside}", inside_params)[0][0]
    # One JSON parameter rather than one "?" per id: no limit on the number of border hits.
    hit_ids = "SELECT value FROM json_each(?)"
    if inside_count * 2 > count_all(layer):
        outside = f"SELECT id FROM {rtree} WHERE NOT ({inside})"
        if hits:
            outside = f"{outside} EXCEPT {hit_ids}"
            inside_params.append(orjson.dumps(hits).decode())
        clause = f"({geom} IS NOT NULL AND {fid} NOT IN ({outside}))"
    else:
        # One IN list (not "IN … OR IN …"): SQLite then walks the sorted id set and reads
        # only the rows of the page; an OR of two lists reads every match and sorts them.
        members = f"SELECT id FROM {rtree} WHERE {inside}"
        if hits:
            members = f"{members} UNION ALL {hit_ids}"
            inside_params.append(orjson.dumps(hits).decode())
        clause = f"{fid} IN ({members})"
    return CompiledBox(clause, inside_params, inside_count + len(hits), hits, inside_count * 2 > count_all(layer))


def build_where(
    layer: OpenLayer,
    *,
    bbox: BBox | None,
    properties: Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
    where: Where | None,
) -> _Sql:
    clauses: list[str] = []
    params: list[Any] = []
    if properties:
        items = properties.items() if isinstance(properties, Mapping) else properties
        for name, value in items:
            clauses.append(_compile_where(layer, Comparison(name, "=", value), params))
    if where is not None:
        clauses.append(_compile_where(layer, where, params))
    known_count = None
    if bbox is not None and len(bbox) > 0:
        boxes = _normalise_bboxes(bbox)
        compiled = [_bbox_clause(layer, box, params) for box in boxes]
        clauses.append(compiled[0][0] if len(compiled) == 1 else "(" + " OR ".join(c for c, _ in compiled) + ")")
        if len(compiled) == 1 and len(clauses) == 1:
            known_count = compiled[0][1]
    return _Sql((" WHERE " + " AND ".join(clauses)) if clauses else "", params, known_count)


def _order_by(layer: OpenLayer, sortby: Sequence[str] | None) -> str:
    keys: list[str] = []
    for key in sortby or ():
        descending = key.startswith("-")
        name = key[1:] if key[:1] in "+-" else key
        column = _column(layer, name)
        # Missing values last in both directions ("-rang" shows the highest ranks first);
        # spelt out because SQLite and PostgreSQL defaults differ.
        keys.append(f"{column} {'DESC' if descending else 'ASC'} NULLS LAST")
    keys.append(quote(layer.fid_column))  # stable order: paging never repeats or skips a feature
    return " ORDER BY " + ", ".join(keys)


# -- rows → result ------------------------------------------------------------------------


def materialise(
    layer: OpenLayer,
    rows: list[tuple[Any, ...]],
    names: Sequence[str],
    *,
    with_geometry: bool,
    number_matched: int,
) -> QueryResult:
    """Rows of (id, *names, geom?) → QueryResult, converting cells column by column."""
    if not rows:
        return QueryResult([], [], np.empty(0, dtype=object), number_matched, with_geometry)
    columns = list(zip(*rows))
    ids = [str(v) for v in columns[0]]
    types = layer.field_types
    values = []
    for name, column in zip(names, columns[1 : 1 + len(names)]):
        decoder = CELL_DECODERS.get(types.get(name, "string"))
        values.append(decoder(column) if decoder else column)
    properties = [dict(zip(names, cells)) for cells in zip(*values)] if names else [{} for _ in ids]
    if with_geometry:
        geometries = decode_geometries(columns[-1])
    else:
        geometries = np.full(len(ids), None, dtype=object)
    return QueryResult(ids, properties, geometries, number_matched, with_geometry)


def selected_columns(layer: OpenLayer, select: Sequence[str] | None) -> list[str]:
    attributes = [c for c in layer.columns if c != "id"]
    if not select:
        return attributes
    for name in select:
        _column(layer, name)
    wanted = set(select)
    return [c for c in attributes if c in wanted]


def run_query(
    layer: OpenLayer,
    *,
    bbox: BBox | None,
    limit: int,
    offset: int,
    sortby: Sequence[str] | None,
    properties: Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
    where: Where | None,
    select: Sequence[str] | None,
    skip_geometry: bool,
    count: bool,
) -> QueryResult:
    if limit < 0 or offset < 0:
        raise InvalidQueryError("limit et offset doivent être positifs ou nuls")
    compiled = build_where(layer, bbox=bbox, properties=properties, where=where)
    where_sql, params = compiled.where, compiled.params
    key = query_key(bbox, properties, where)
    order_sql = _order_by(layer, sortby)
    names = selected_columns(layer, select)
    with_geometry = not skip_geometry
    if count:
        matched = number_matched(layer, where_sql, params, compiled.known_count, key)
    else:
        matched = -1
    if limit == 0 or (count and offset >= matched):
        return materialise(layer, [], names, with_geometry=with_geometry, number_matched=matched)
    select_sql = ", ".join([quote("id"), *map(quote, names)] + ([quote(layer.geometry_column)] if with_geometry else []))
    box = _single_box(bbox) if not sortby and not properties and where is None else None
    if box is not None and compiled.known_count is not None and compiled.known_count > SORTED_IDS_FROM:
        # A large bbox-only match set: its ids sorted once (numpy) and sliced per page.
        rows = page_of_box(layer, select_sql, box, _compiled_box(layer, box), int(limit), int(offset))
    elif not sortby:  # the default order, by feature id: seek instead of OFFSET
        rows = page_in_id_order(layer, select_sql, where_sql, params, key, int(limit), int(offset))
    else:
        rows = layer.execute(
            f"SELECT {select_sql} FROM {quote(layer.table)}{where_sql}{order_sql} LIMIT ? OFFSET ?",
            [*params, int(limit), int(offset)],
        )
    return materialise(layer, rows, names, with_geometry=with_geometry, number_matched=matched)


def get_feature(layer: OpenLayer, feature_id: str) -> dict[str, Any] | None:
    names = selected_columns(layer, None)
    select_sql = ", ".join([quote("id"), *map(quote, names), quote(layer.geometry_column)])
    rows = layer.execute(f"SELECT {select_sql} FROM {quote(layer.table)} WHERE {quote('id')} = ?", (str(feature_id),))
    if not rows:
        return None
    return materialise(layer, rows, names, with_geometry=True, number_matched=1).features[0]
