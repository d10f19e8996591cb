"""Spatial predicates on one open GeoPackage layer: the R-tree narrows, shapely decides.

A ``Spatial`` node (S_INTERSECTS, S_WITHIN, S_DWITHIN… against a literal geometry) is
evaluated in two steps: the layer's R-tree gives the candidates whose box meets the
literal's box (widened by the distance for ``dwithin``), then the exact predicate is
tested with shapely on the candidates' real geometries, in one vectorised call. The
result is the set of matching feature ids, which the SQL ``WHERE`` uses like any other
condition, so that spatial predicates combine freely with AND / OR / NOT, the bbox
parameter, sorting, paging and ``numberMatched``.

Distances (``dwithin``) are in metres on the WGS84 ellipsoid: the prefilter box is
widened by an upper bound of the distance in degrees, and the exact test runs in an
azimuthal equidistant projection centred on the literal, exact for distances to its
centre and within 0.1 % up to 500 km away from it.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import orjson
import pyproj
import shapely
from shapely.errors import GEOSException

from .base import InvalidQueryError, Spatial
from .gpkg_reader import OpenLayer, decode_geometries, quote

# Shortest length of one degree on the WGS84 ellipsoid: of latitude (at the equator) and
# of longitude at the equator (shrinking as cos(latitude), never faster).
_METRES_PER_DEGREE_LAT_MIN = 110_574.0
_METRES_PER_DEGREE_LON_EQUATOR = 111_319.0
_MARGIN = 1.001  # on top of the bounds above: float rounding never drops a candidate

_PREDICATES = {
    "intersects": shapely.intersects,
    "disjoint": shapely.intersects,  # evaluated as NOT intersects (see spatial_clause)
    "within": shapely.within,
    "contains": shapely.contains,
    "equals": shapely.equals,
    "touches": shapely.touches,
    "overlaps": shapely.overlaps,
    "crosses": shapely.crosses,
}
# Matching sets kept for the next page of the same query (per open file); beyond this
# size recomputing is cheaper than holding them.
_CACHED_MATCHES_MAX = 200_000


def distance_box(bounds: tuple[float, float, float, float], metres: float) -> tuple[float, float, float, float]:
    """``bounds`` (lon/lat) widened by at least ``metres`` in every direction."""
    minx, miny, maxx, maxy = bounds
    dlat = metres / _METRES_PER_DEGREE_LAT_MIN * _MARGIN
    south, north = max(-90.0, miny - dlat), min(90.0, maxy + dlat)
    edge = max(abs(south), abs(north))
    cos_edge = math.cos(math.radians(edge))
    if cos_edge < 1e-6:  # a pole is within reach: every longitude is
        return (-180.0, south, 180.0, north)
    dlon = metres / (_METRES_PER_DEGREE_LON_EQUATOR * cos_edge) * _MARGIN
    west, east = minx - dlon, maxx + dlon
    if west < -180.0 or east > 180.0:  # reaches across the antimeridian: keep every longitude
        return (-180.0, south, 180.0, north)
    return (west, south, east, north)


@lru_cache(maxsize=64)
def _local_metric(lon0: float, lat0: float) -> pyproj.Transformer:
    """WGS84 lon/lat → azimuthal equidistant metres centred on (lon0, lat0)."""
    return pyproj.Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m", always_xy=True
    )


def _to_local(geometries: np.ndarray | Any, transformer: pyproj.Transformer) -> Any:
    def transform(coordinates: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coordinates[:, 0], coordinates[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometries, transform)


def _check_literal(node: Spatial) -> Any:
    geometry = node.geometry
    if not isinstance(geometry, shapely.Geometry):
        raise InvalidQueryError(f"filter : géométrie attendue, reçu « {geometry!r} »", field="filter")
    if not shapely.is_valid(geometry):
        raise InvalidQueryError(
            f"filter : géométrie littérale invalide ({shapely.is_valid_reason(geometry)})", field="filter"
        )
    if node.op == "dwithin":
        if node.distance is None or not math.isfinite(node.distance) or node.distance < 0:
            raise InvalidQueryError("filter : S_DWITHIN attend une distance positive en mètres", field="filter")
    elif node.op not in _PREDICATES:
        raise InvalidQueryError(f"filter : prédicat spatial non pris en charge : {node.op}", field="filter")
    return geometry


def _candidates(layer: OpenLayer, box: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(fids, geometries) of the features whose R-tree box meets ``box``."""
    fid, geom = quote(layer.fid_column), quote(layer.geometry_column)
    minx, miny, maxx, maxy = box
    if layer.rtree is None:  # no index (never the case for published layers): every geometry
        rows = layer.execute(f"SELECT {fid}, {geom} FROM {quote(layer.table)} WHERE {geom} IS NOT NULL")
    else:
        rows = layer.execute(
            f"SELECT t.{fid}, t.{geom} FROM {quote(layer.table)} t WHERE t.{fid} IN "
            f"(SELECT id FROM {quote(layer.rtree)} WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)",
            [maxx, minx, maxy, miny],
        )
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
    fids, blobs = zip(*rows)
    return np.asarray(fids, dtype=np.int64), decode_geometries(blobs)


def _points_in_area_applies(layer: OpenLayer, node: Spatial, geometry: Any) -> bool:
    return (
        node.op in ("intersects", "disjoint", "within")
        and layer.rtree is not None
        and layer.metadata.get("geometry_types") == ["Point"]
        and shapely.get_type_id(geometry) in (3, 6)  # Polygon, MultiPolygon
    )


def _points_in_area(layer: OpenLayer, node: Spatial, area: Any, bounds: tuple[float, ...]) -> np.ndarray:
    """Point features against a polygon, decided from the R-tree alone where it can be.

    A point lies in its R-tree box (float32, rounded outwards: at most a few 1e-7° wide).
    When the box's centre is farther than the box's half-diagonal from the polygon's
    boundary, the point is on the same side as the centre — strictly inside or strictly
    outside — and only the few points near the boundary are read and tested exactly.
    At a million points this skips reading most geometries.
    """
    minx, miny, maxx, maxy = bounds
    rows = layer.execute(
        f"SELECT id, minx, maxx, miny, maxy FROM {quote(layer.rtree)} "  # type: ignore[arg-type]
        "WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?",
        [maxx, minx, maxy, miny],
    )
    if not rows:
        return np.empty(0, dtype=np.int64)
    boxes = np.asarray(rows, dtype=np.float64)
    fids = boxes[:, 0].astype(np.int64)
    cx, cy = (boxes[:, 1] + boxes[:, 2]) / 2, (boxes[:, 3] + boxes[:, 4]) / 2
    reach = np.hypot(boxes[:, 2] - boxes[:, 1], boxes[:, 4] - boxes[:, 3]) / 2 + 1e-9
    shapely.prepare(area)
    boundary = shapely.boundary(area)
    shapely.prepare(boundary)
    near = shapely.dwithin(shapely.points(cx, cy), boundary, reach)
    keep = shapely.contains_xy(area, cx, cy) & ~near
    if near.any():
        uncertain = fids[near]
        geom, fid = quote(layer.geometry_column), quote(layer.fid_column)
        rows = layer.execute(
            f"SELECT {fid}, {geom} FROM {quote(layer.table)} WHERE {fid} IN (SELECT value FROM json_each(?))",
            [orjson.dumps(uncertain, option=orjson.OPT_SERIALIZE_NUMPY).decode()],
        )
        if rows:
            exact_fids, blobs = zip(*rows)
            test = shapely.within if node.op == "within" else shapely.intersects
            exact = np.asarray(exact_fids, dtype=np.int64)[np.asarray(test(decode_geometries(blobs), area), dtype=bool)]
            return np.sort(np.concatenate([fids[keep], exact]))
    return np.sort(fids[keep])


def matching_fids(layer: OpenLayer, node: Spatial) -> np.ndarray:
    """Sorted ids of the features for which ``node`` holds (for ``disjoint``: that intersect)."""
    geometry = _check_literal(node)
    if shapely.is_empty(geometry):
        return np.empty(0, dtype=np.int64)
    bounds = tuple(float(v) for v in shapely.bounds(geometry))
    try:
        if node.op == "dwithin":
            fids, candidates = _candidates(layer, distance_box(bounds, float(node.distance)))
            if len(fids) == 0:
                return fids
            centre = shapely.centroid(shapely.box(*bounds))
            transformer = _local_metric(round(centre.x, 7), round(centre.y, 7))
            literal = _to_local(geometry, transformer)
            keep = shapely.dwithin(_to_local(candidates, transformer), literal, float(node.distance))
        elif _points_in_area_applies(layer, node, geometry):
            return _points_in_area(layer, node, geometry, bounds)
        else:
            fids, candidates = _candidates(layer, bounds)
            if len(fids) == 0:
                return fids
            shapely.prepare(geometry)
            keep = _PREDICATES[node.op](candidates, geometry)
    except GEOSException as exc:
        raise InvalidQueryError(f"filter : prédicat spatial impossible à évaluer : {exc}", field="filter") from None
    return np.sort(fids[np.asarray(keep, dtype=bool)])


def spatial_clause(layer: OpenLayer, node: Spatial, params: list[Any], negated: bool = False) -> str:
    """SQL for ``node`` (``NOT node`` when ``negated``), as a test on feature ids.

    A feature without geometry satisfies neither ``node`` nor ``NOT node`` (SQL's
    unknown). ``_compile_where`` pushes NOT down to the leaves, where false and unknown
    select the same rows, so the positive form is a bare ``fid IN (…)`` that SQLite
    answers by id lookups rather than by scanning the table.
    """
    fids = layer.cache.get(("spatial", node))
    if fids is None:
        fids = matching_fids(layer, node)
        if len(fids) <= _CACHED_MATCHES_MAX:
            layer.cache.put(("spatial", node), fids)
    geom, fid = quote(layer.geometry_column), quote(layer.fid_column)
    inside = negated == (node.op == "disjoint")  # True: the features of ``fids`` are the answer
    if len(fids) == 0:
        return "0" if inside else f"({geom} IS NOT NULL)"
    params.append(orjson.dumps(fids, option=orjson.OPT_SERIALIZE_NUMPY).decode())
    if inside:
        return f"({fid} IN (SELECT value FROM json_each(?)))"
    return f"({geom} IS NOT NULL AND {fid} NOT IN (SELECT value FROM json_each(?)))"
