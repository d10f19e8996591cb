"""The read statements of the PostGIS store and their rows → ``QueryResult``.

One read is one SQL statement: the page, its ``numberMatched`` and the layer version it
read come back together (see ``postgis.py`` for why), compiled from the filter tree by
``pg_query``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import orjson
import shapely

from .base import BBox, InvalidQueryError, QueryResult, Where
from .pg_query import JSON_KINDS, LayerInfo, build_where, column, ident, order_by, selected_columns, text_expression


# -- statements -----------------------------------------------------------------------------


def alias_prefix(layer: LayerInfo) -> str:
    """A prefix for the statement's own output names that no column of the layer starts with."""
    prefix = "_gc_"
    while any(name.startswith(prefix) for name in layer.columns):
        prefix += "_"
    return prefix


def output_list(layer: LayerInfo, names: Sequence[str], *, with_geometry: bool, prefix: str = "") -> str:
    parts = [prefix + '"id"']
    for name in names:
        expression = text_expression(prefix + ident(name), layer.field_types.get(name, "string"))
        parts.append(f"{expression} AS {ident(name)}")
    if with_geometry:
        parts.append(f'ST_AsBinary({prefix}"geom") AS {ident(alias_prefix(layer) + "wkb")}')
    return ", ".join(parts)


@dataclass
class PageStatement:
    sql: str
    params: list[Any]
    names: list[str]
    with_geometry: bool
    # Set when numberMatched is counted by this statement: the key to remember it under,
    # so that the next pages of the same query (same layer version) do not count again.
    count_key: tuple[Any, ...] | None = None


def page_statement(
    layer: LayerInfo,
    metadata_table: str,
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
    known_counts: Mapping[tuple[Any, ...], int] | None = None,
) -> PageStatement:
    """One statement → rows of (version, number_matched, id, *names, wkb?); a single row of
    NULLs after the first two columns when the page is empty."""
    if limit < 0 or offset < 0:
        raise InvalidQueryError("limit et offset doivent être positifs ou nuls")
    compiled = build_where(layer, bbox=bbox, properties=properties, where=where)
    names = selected_columns(layer, select)
    order_sql = order_by(layer, sortby)
    with_geometry = not skip_geometry
    alias = alias_prefix(layer)
    params: list[Any] = []
    count_key: tuple[Any, ...] | None = None
    version_sql = f"(SELECT version FROM {metadata_table} WHERE layer_id = %s)"
    params.append(layer.metadata.get("layer"))
    if not count:
        count_sql = "-1"
    elif not compiled.where:
        count_sql = f"(SELECT feature_count FROM {metadata_table} WHERE layer_id = %s)"
        params.append(layer.metadata.get("layer"))
    elif compiled.whole_geometries:
        count_sql = f"(SELECT geometry_count FROM {metadata_table} WHERE layer_id = %s)"
        params.append(layer.metadata.get("layer"))
    else:
        count_key = (layer.table, layer.version, compiled.where, tuple(compiled.params))
        try:
            known = (known_counts or {}).get(count_key)
        except TypeError:  # an unhashable parameter: count every time
            count_key, known = None, None
        if known is not None:
            count_sql, count_key = str(int(known)), None
        else:
            count_sql = f"(SELECT count(*) FROM {layer.table}{compiled.where})"
            params.extend(compiled.params)
    # The page is chosen on narrow rows (fid and sort keys), then its rows are read by fid:
    # sorting carries no geometry or JSON. Its ORDER BY is repeated outside, since a join
    # does not promise to keep the order of its inner rows (at most ``limit`` rows there).
    keys = "".join(f", {k} AS {ident(f'{alias}k{i}')}" for i, k in enumerate(_sort_expressions(layer, sortby)))
    if not compiled.where and not sortby:
        # Published fids are 1…n: in the default order, page n starts after fid = offset —
        # a seek on the primary key instead of reading and discarding ``offset`` rows.
        inner = f'SELECT "fid" FROM {layer.table} WHERE "fid" > %s ORDER BY "fid" LIMIT %s'
        params.extend([int(offset), int(limit)])
    else:
        inner = f'SELECT "fid"{keys} FROM {layer.table}{compiled.where}{order_sql} LIMIT %s OFFSET %s'
        params.extend(compiled.params)
        params.extend([int(limit), int(offset)])
    outer_order = ", ".join(
        [f"p.{ident(f'{alias}k{i}')} {direction} NULLS LAST" for i, direction in enumerate(_sort_directions(sortby))]
        + ['p."fid"']
    )
    sql = (
        f"SELECT h.version, h.matched, {output_list(layer, names, with_geometry=with_geometry, prefix='t.')} "
        f"FROM (SELECT {version_sql} AS version, {count_sql} AS matched) h "
        f"LEFT JOIN LATERAL ({inner}) p ON TRUE LEFT JOIN {layer.table} t ON t.\"fid\" = p.\"fid\" "
        f"ORDER BY {outer_order}"
    )
    return PageStatement(sql, params, names, with_geometry, count_key)


def rows_by_fid_statement(
    layer: LayerInfo, metadata_table: str, *, select: Sequence[str] | None, skip_geometry: bool
) -> tuple[str, list[str], bool]:
    """The page chosen by the point index (``pg_point_index``): rows of (version, id, *names,
    wkb?) for the fids bound to the second parameter (``bigint[]``), in fid order; a single row
    of NULLs after the version when none is there. The same output as ``page_statement``'s, and
    the version read by the same statement, checked against the index's."""
    names = selected_columns(layer, select)
    with_geometry = not skip_geometry
    sql = (
        f"SELECT h.version, {output_list(layer, names, with_geometry=with_geometry, prefix='t.')} "
        f"FROM (SELECT (SELECT version FROM {metadata_table} WHERE layer_id = %s) AS version) h "
        f'LEFT JOIN {layer.table} t ON t."fid" = ANY(%s::bigint[]) ORDER BY t."fid"'
    )
    return sql, names, with_geometry


def _sort_expressions(layer: LayerInfo, sortby: Sequence[str] | None) -> list[str]:
    out = []
    for key in sortby or ():
        name = key[1:] if key[:1] in "+-" else key
        col = column(layer, name)
        out.append(f'{col}::text COLLATE "C"' if layer.field_types.get(name) in JSON_KINDS else col)
    return out


def _sort_directions(sortby: Sequence[str] | None) -> list[str]:
    return ["DESC" if key.startswith("-") else "ASC" for key in sortby or ()]


def get_statement(layer: LayerInfo, metadata_table: str) -> tuple[str, list[str]]:
    names = selected_columns(layer, None)
    sql = (
        f"SELECT (SELECT version FROM {metadata_table} WHERE layer_id = %s), "
        f"{output_list(layer, names, with_geometry=True)} FROM {layer.table} WHERE \"id\" = %s"
    )
    return sql, names


# -- rows → result ------------------------------------------------------------------------


def _from_json(values: tuple[Any, ...]) -> list[Any]:
    return [None if v is None else orjson.loads(v) for v in values]


CELL_DECODERS = {"array": _from_json, "object": _from_json}


def materialise(
    layer: LayerInfo,
    rows: Sequence[tuple[Any, ...]],
    names: Sequence[str],
    *,
    with_geometry: bool,
    number_matched: int,
) -> QueryResult:
    """Rows of (id, *names, wkb?) → QueryResult, converting cells column by column."""
    if not rows:
        return QueryResult([], [], np.empty(0, dtype=object), number_matched, with_geometry)
    columns = list(zip(*rows))
    ids = [str(v) for v in columns[0]]
    values = []
    for name, cells in zip(names, columns[1 : 1 + len(names)]):
        decoder = CELL_DECODERS.get(layer.field_types.get(name, "string"))
        values.append(decoder(cells) if decoder else cells)
    properties = [dict(zip(names, cells)) for cells in zip(*values)] if names else [{} for _ in ids]
    if with_geometry:
        wkb = np.empty(len(ids), dtype=object)
        wkb[:] = columns[-1]
        geometries = shapely.from_wkb(wkb)
    else:
        geometries = np.full(len(ids), None, dtype=object)
    return QueryResult(ids, properties, geometries, number_matched, with_geometry)
