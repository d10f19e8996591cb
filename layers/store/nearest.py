"""Nearest features to a position, on one open GeoPackage layer.

SQLite's R-tree has no nearest-neighbour search, so we search it with boxes, then rank
the candidates by their exact geodesic distance on the WGS84 ellipsoid (``pyproj.Geod``,
vectorised). Two phases, both exact:

1. **Growing box** (the common case: a position among the data). A radius ``r`` is
   chosen with R-tree counts alone (no row read) so that the box around the disc of
   radius ``r`` holds between ``k`` and a few thousand entries; their rows are read. If
   the ``k``-th nearest lies within ``r``, no feature outside the box can be nearer
   (``disc_boxes`` contains the whole geodesic disc): done, in a few milliseconds.
2. **Best-first over tiles** otherwise (a position far from the data, or a filter that
   leaves few candidates nearby). The layer's extent is split into tiles, visited in
   order of a proven lower bound of the distance to any point of the tile
   (``tile_lower_bound``); a tile holding too many entries is split in four first. The
   search stops when the next tile's bound exceeds the ``k``-th distance found.

For points the distance is exact. For lines and polygons it is the geodesic distance to
the point of the geometry nearest to the position in longitude/latitude, a close (not
exact) approximation of the true nearest point.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import Geod

from .base import InvalidQueryError, Where
from .gpkg_query import build_where, get_feature
from .gpkg_reader import OpenLayer, decode_geometries, quote

GEOD = Geod(ellps="WGS84")
_A = 6378137.0  # WGS84 semi-major axis
_F = 1 / 298.257223563  # flattening
_B = _A * (1 - _F)  # semi-minor axis
# Lower bounds of the radii of curvature, so that boxes are never too small:
# meridional M(φ) >= a(1 - e²) (its value at the equator), prime vertical N(φ) >= a.
_M_MIN = _A * (1 - 0.00669437999014)
_EARTH_HALF_CIRCUMFERENCE = 20_004_000.0  # metres, a little more than pole to pole

MAX_K = 100
_MIN_RADIUS = 5.0  # metres
_MAX_START_RADIUS = 50_000.0
_GROWTH = 4.0
# Most R-tree entries read per box or tile: reading 2 000 rows costs about a millisecond.
_MAX_CANDIDATES = 2_000
# With a filter, once the tiles visited hold more than this share of the layer, the
# filtered rows are read in one pass over the table (cheaper than many R-tree look-ups).
_SCAN_SHARE = 0.25

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Neighbour:
    """A feature and its geodesic distance (metres) to the position asked about."""

    feature: dict[str, Any]
    distance: float


# -- geometry of the search -------------------------------------------------------------


def disc_boxes(lon: float, lat: float, radius: float) -> list[Box]:
    """Longitude/latitude boxes that together contain every point within ``radius`` metres
    (geodesic) of (lon, lat); two boxes when the disc crosses the antimeridian.

    A path of length ``d`` changes the latitude by at most ``d / M_min`` and, while it
    stays below latitude φ_max, the longitude by at most ``d / (a cos φ_max)``
    (ds² = M²dφ² + N²cos²φ dλ², with M >= M_min and N >= a).
    """
    dlat = math.degrees(radius / _M_MIN)
    south, north = lat - dlat, lat + dlat
    if north >= 90.0 or south <= -90.0 or radius >= _EARTH_HALF_CIRCUMFERENCE:
        return [(-180.0, max(south, -90.0), 180.0, min(north, 90.0))]
    dlon = math.degrees(radius / (_A * math.cos(math.radians(max(abs(south), abs(north))))))
    if dlon >= 180.0:
        return [(-180.0, south, 180.0, north)]
    west, east = lon - dlon, lon + dlon
    if west < -180.0:
        return [(west + 360.0, south, 180.0, north), (-180.0, south, east, north)]
    if east > 180.0:
        return [(west, south, 180.0, north), (-180.0, south, east - 360.0, north)]
    return [(west, south, east, north)]


def _reduced(lat: float) -> float:
    """Reduced (parametric) latitude, radians."""
    phi = math.radians(max(-90.0, min(90.0, lat)))
    if abs(phi) >= math.pi / 2:
        return phi
    return math.atan((1 - _F) * math.tan(phi))


def _arc(beta1: float, beta2: float, dlon: float) -> float:
    """Central angle on the unit sphere (haversine: precise for small angles)."""
    h = math.sin((beta2 - beta1) / 2) ** 2 + math.cos(beta1) * math.cos(beta2) * math.sin(dlon / 2) ** 2
    return 2 * math.asin(math.sqrt(min(1.0, max(0.0, h))))


def tile_lower_bound(lon: float, lat: float, box: Box) -> float:
    """Metres: no point of ``box`` is geodesically nearer to (lon, lat) than this.

    On the ellipsoid, the geodesic length is at least ``b`` times the great-circle angle
    between the two points on the auxiliary sphere (reduced latitudes, and a longitude
    difference at least the real one), so ``b`` times the spherical distance from the
    position to the box, computed with reduced latitudes, is a lower bound.
    """
    minx, miny, maxx, maxy = box
    beta, beta1, beta2 = _reduced(lat), _reduced(miny), _reduced(maxy)
    if minx <= lon <= maxx:
        angle = 0.0 if beta1 <= beta <= beta2 else min(abs(beta - beta1), abs(beta - beta2))
    else:
        angle = math.pi
        for edge in (minx, maxx):
            dlon = abs(math.radians((edge - lon + 180.0) % 360.0 - 180.0))
            ends = [beta1, beta2]
            if dlon < math.pi / 2:
                # Foot of the perpendicular from the position to the meridian (Napier).
                foot = math.atan(math.tan(beta) / math.cos(dlon))
                ends.append(min(beta2, max(beta1, foot)))
            angle = min(angle, *(_arc(beta, end, dlon) for end in ends))
    return max(0.0, _B * angle * (1 - 1e-9) - 1e-3)


def _covers(boxes: list[Box], extent: Any) -> bool:
    if not extent:
        return True
    minx, miny, maxx, maxy = (float(v) for v in extent)
    return any(b[0] <= minx and b[1] <= miny and b[2] >= maxx and b[3] >= maxy for b in boxes)


def _split(box: Box) -> list[Box]:
    minx, miny, maxx, maxy = box
    mx, my = (minx + maxx) / 2, (miny + maxy) / 2
    return [(minx, miny, mx, my), (mx, miny, maxx, my), (minx, my, mx, maxy), (mx, my, maxx, maxy)]


# -- SQL ------------------------------------------------------------------------------------


def _overlap_sql(rtree: str, boxes: list[Box], params: list[Any]) -> str:
    """R-tree entries whose box overlaps one of ``boxes`` (R-tree boxes are rounded
    outwards to 32-bit floats, so "overlaps" never misses a feature inside)."""
    parts = []
    for minx, miny, maxx, maxy in boxes:
        parts.append("(maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?)")
        params.extend([minx, maxx, miny, maxy])
    return f"SELECT id FROM {quote(rtree)} WHERE " + " OR ".join(parts)


class _Search:
    """One nearest-neighbour search: the SQL pieces and the best candidates so far."""

    def __init__(self, layer: OpenLayer, lon: float, lat: float, k: int, where: Where | None) -> None:
        self.layer, self.lon, self.lat, self.k = layer, lon, lat, k
        compiled = build_where(layer, bbox=None, properties=None, where=where)
        self.filter_sql = compiled.where.replace(" WHERE ", " AND ", 1) if compiled.where else ""
        self.filter_params = compiled.params
        self.table = quote(layer.table)
        self.fid, self.geom, self.id = quote(layer.fid_column), quote(layer.geometry_column), quote("id")
        self.extent = layer.metadata.get("extent")
        self.total = int(layer.metadata.get("geometry_count") or 0)
        self.best: dict[str, float] = {}  # id → distance; holds at least the k nearest seen

    def count(self, boxes: list[Box]) -> int:
        params: list[Any] = []
        sql = f"SELECT count(*) FROM ({_overlap_sql(self.layer.rtree, boxes, params)})"  # type: ignore[arg-type]
        return int(self.layer.execute(sql, params)[0][0])

    def read(self, boxes: list[Box] | None) -> None:
        """Rank the (filtered) features of ``boxes`` — of the whole layer if ``None``."""
        if boxes is None:
            rows = self.layer.execute(
                f"SELECT {self.id}, {self.geom} FROM {self.table} WHERE {self.geom} IS NOT NULL{self.filter_sql}",
                self.filter_params,
            )
        else:
            params: list[Any] = []
            inside = _overlap_sql(self.layer.rtree, boxes, params)  # type: ignore[arg-type]
            rows = self.layer.execute(
                f"SELECT {self.id}, {self.geom} FROM {self.table} "
                f"WHERE {self.fid} IN ({inside}) AND {self.geom} IS NOT NULL{self.filter_sql}",
                params + self.filter_params,
            )
        if not rows:
            return
        distances = _distances(decode_geometries([r[1] for r in rows]), self.lon, self.lat)
        for (fid, _), distance in zip(rows, distances.tolist()):
            self.best[str(fid)] = distance
        if len(self.best) > 4 * self.k + 64:  # keep the dictionary small
            self.best = dict(self.ranked()[: self.k])

    def ranked(self) -> list[tuple[str, float]]:
        return sorted(self.best.items(), key=lambda item: (item[1], item[0]))

    def kth(self) -> float:
        if len(self.best) < self.k:
            return math.inf
        return self.ranked()[self.k - 1][1]


def _distances(geometries: np.ndarray, lon: float, lat: float) -> np.ndarray:
    """Geodesic distances (metres) from (lon, lat) to each geometry (see module docstring)."""
    origin = shapely.points(lon, lat)
    is_point = shapely.get_type_id(geometries) == 0
    targets = geometries.copy()
    if not is_point.all():
        others = ~is_point
        # shortest_line(g, origin) starts on g: the point of g nearest to the origin.
        targets[others] = shapely.get_point(shapely.shortest_line(geometries[others], origin), 0)
    x, y = shapely.get_x(targets), shapely.get_y(targets)
    _, _, distance = GEOD.inv(np.full(len(x), lon), np.full(len(y), lat), x, y)
    return np.asarray(distance, dtype=float)


# -- the two phases ---------------------------------------------------------------------------


def _start_radius(search: _Search) -> float:
    """A radius that would hold about 4k features if they were spread evenly."""
    extent = search.extent
    if not extent or search.total <= 0:
        return 1000.0
    coslat = max(math.cos(math.radians(search.lat)), 0.01)
    width = max(float(extent[2]) - float(extent[0]), 1e-6) * 111_320.0 * coslat
    height = max(float(extent[3]) - float(extent[1]), 1e-6) * 110_574.0
    density = search.total / (width * height)
    return min(max(math.sqrt(4 * search.k / (math.pi * density)), _MIN_RADIUS), _MAX_START_RADIUS)


def _radius_for_candidates(search: _Search) -> float | None:
    """A radius whose boxes hold between ``k`` and ``_MAX_CANDIDATES`` R-tree entries,
    found with R-tree counts only: grow x4 while too few, then bisect (geometrically).
    ``None`` when no such radius is found quickly (dense spot, or the whole layer)."""
    radius, low, high = _start_radius(search), 0.0, math.inf
    for _ in range(24):
        boxes = disc_boxes(search.lon, search.lat, radius)
        count = search.count(boxes)
        if count < search.k:
            if _covers(boxes, search.extent):
                return None
            low = radius
        elif count > _MAX_CANDIDATES:
            high = radius
        else:
            return radius
        if high == math.inf:
            radius *= _GROWTH
        elif low == 0.0:
            radius /= _GROWTH
            if radius < _MIN_RADIUS:
                return None
        elif high - low < 1.0:
            return None
        else:
            radius = math.sqrt(low * high)
    return None


def _best_first(search: _Search) -> None:
    """Visit tiles of the extent nearest first until none can hold a nearer feature."""
    extent = search.extent
    if not extent:
        return
    root: Box = tuple(float(v) for v in extent)  # type: ignore[assignment]
    order = itertools.count()
    heap: list[tuple[float, int, Box, int | None]] = [
        (tile_lower_bound(search.lon, search.lat, root), next(order), root, search.total)
    ]
    visited = 0
    while heap:
        bound, _, box, count = heapq.heappop(heap)
        if bound > search.kth():
            return
        if count is None:
            count = search.count([box])
        if count == 0:
            continue
        tiny = box[2] - box[0] < 1e-7 and box[3] - box[1] < 1e-7
        if count > _MAX_CANDIDATES and not tiny:
            for child in _split(box):
                heapq.heappush(heap, (tile_lower_bound(search.lon, search.lat, child), next(order), child, None))
            continue
        visited += count
        if search.filter_sql and visited > _SCAN_SHARE * search.total:
            search.read(None)  # a selective filter: one pass over the table, then exact
            return
        search.read([box])


def nearest_features(
    layer: OpenLayer, lon: float, lat: float, *, where: Where | None = None, k: int = 1
) -> list[Neighbour]:
    """The ``k`` features of ``layer`` nearest to (lon, lat) among those matching ``where``,
    nearest first (ties: by id), each with its geodesic distance in metres."""
    lon, lat, k = float(lon), float(lat), int(k)
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise InvalidQueryError(f"longitude invalide « {lon} » (attendu : entre -180 et 180)", field="lon")
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise InvalidQueryError(f"latitude invalide « {lat} » (attendu : entre -90 et 90)", field="lat")
    if not 1 <= k <= MAX_K:
        raise InvalidQueryError(f"k doit être compris entre 1 et {MAX_K}", field="k")
    if layer.rtree is None:
        raise InvalidQueryError(f"la couche « {layer.table} » n'a pas d'index spatial")
    search = _Search(layer, lon, lat, k, where)
    if search.total == 0:
        return []
    radius = _radius_for_candidates(search)
    if radius is not None:
        search.read(disc_boxes(lon, lat, radius))
    if radius is None or search.kth() > radius:
        _best_first(search)
    neighbours = []
    for feature_id, distance in search.ranked()[:k]:
        feature = get_feature(layer, feature_id)
        if feature is not None:
            neighbours.append(Neighbour(feature, distance))
    return neighbours
