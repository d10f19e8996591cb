"""Nearest features to a position in PostGIS, with the GeoPackage store's answer.

Same definition as ``nearest.py`` (whose distance function is used as is): geodesic
distance on the WGS84 ellipsoid — exact for points, to the point of the geometry nearest
in longitude/latitude for lines and polygons — nearest first, ties by id.

Two statements, no growing boxes: the GiST index's KNN order (``geom <-> point``, planar
degrees) gives ``4k`` candidates; the ``k``-th smallest geodesic distance among them, ``d``,
bounds the answer: every feature nearer than ``d`` lies in ``disc_boxes(d)``, and the
second statement reads exactly those. Both statements return the layer version; a
re-publication between them makes the caller start again.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely

from .base import InvalidQueryError, Where
from .nearest import MAX_K, Neighbour, _distances, disc_boxes
from .pg_query import LayerInfo, build_where, selected_columns
from .pg_read import materialise, output_list

CANDIDATES_PER_NEIGHBOUR = 4


def check_position(lon: float, lat: float, k: int) -> tuple[float, float, int]:
    lon, lat, k = float(lon), float(lat), int(k)
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise InvalidQueryError(f"longitude invalide « {lon} » (attendu : entre -180 et 180)", field="lon")
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise InvalidQueryError(f"latitude invalide « {lat} » (attendu : entre -90 et 90)", field="lat")
    if not 1 <= k <= MAX_K:
        raise InvalidQueryError(f"k doit être compris entre 1 et {MAX_K}", field="k")
    return lon, lat, k


def _filter(layer: LayerInfo, where: Where | None) -> tuple[str, list[Any]]:
    compiled = build_where(layer, bbox=None, properties=None, where=where)
    return (compiled.where.replace(" WHERE ", " AND ", 1) if compiled.where else ""), compiled.params


def knn_statement(layer: LayerInfo, metadata_table: str, lon: float, lat: float, k: int,
                  where: Where | None) -> tuple[str, list[Any]]:
    """(version, id, wkb) of the 4k features nearest in the index's planar order."""
    filter_sql, params = _filter(layer, where)
    sql = (
        f"SELECT (SELECT version FROM {metadata_table} WHERE layer_id = %s), \"id\", ST_AsBinary(\"geom\") "
        f"FROM {layer.table} WHERE \"geom\" IS NOT NULL{filter_sql} "
        f"ORDER BY \"geom\" <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326) LIMIT %s"
    )
    return sql, [layer.metadata.get("layer"), *params, lon, lat, k * CANDIDATES_PER_NEIGHBOUR]


def disc_statement(layer: LayerInfo, metadata_table: str, lon: float, lat: float, radius: float,
                   where: Where | None) -> tuple[str, list[Any], list[str]]:
    """(version, id, *properties, wkb) of every feature within ``disc_boxes(radius)``."""
    filter_sql, filter_params = _filter(layer, where)
    boxes = disc_boxes(lon, lat, radius)
    names = selected_columns(layer, None)
    box_sql = " OR ".join(['"geom" && ST_MakeEnvelope(%s, %s, %s, %s, 4326)'] * len(boxes))
    sql = (
        f"SELECT (SELECT version FROM {metadata_table} WHERE layer_id = %s), "
        f"{output_list(layer, names, with_geometry=True)} FROM {layer.table} "
        f"WHERE ({box_sql}){filter_sql}"
    )
    params = [layer.metadata.get("layer"), *(v for box in boxes for v in box), *filter_params]
    return sql, params, names


def rank(rows: list[tuple[Any, ...]], lon: float, lat: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the k nearest (by distance, then id) and all the distances."""
    ids = np.array([str(r[0]) for r in rows], dtype=object)
    wkb = np.empty(len(rows), dtype=object)
    wkb[:] = [r[-1] for r in rows]
    distances = _distances(shapely.from_wkb(wkb), lon, lat)
    return np.lexsort((ids, distances))[:k], distances


def neighbours(layer: LayerInfo, rows: list[tuple[Any, ...]], names: list[str], lon: float, lat: float,
               k: int) -> list[Neighbour]:
    if not rows:
        return []
    order, distances = rank(rows, lon, lat, k)
    chosen = [rows[i] for i in order]
    features = materialise(layer, chosen, names, with_geometry=True, number_matched=len(chosen)).features
    return [Neighbour(feature, float(distances[i])) for feature, i in zip(features, order)]
