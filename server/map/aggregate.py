"""Server-side aggregate for the map at low zoom: how many features (matching a filter)
lie in each Web-Mercator tile of a level, within a bbox.

Built on the store interface only (one ``count`` query per tile: an R-tree count on the
GeoPackage store, an index count on PostGIS), so it works on both stores. The tiles are
the usual slippy-map tiles, so a tile keeps its identity and its cached count while the
map pans; counts are cached per layer version and filter.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

from layers.store import Store, Where

MAX_LEVEL = 22
MAX_TILES = 1024
_EDGE = 1e-9  # degrees: tiles are half-open (west/south in, east/north out)
_CACHE_SIZE = 200_000


def _lon(x: float, z: int) -> float:
    return x / 2**z * 360.0 - 180.0


def _lat(y: float, z: int) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / 2**z))))


def _tile_x(lon: float, z: int) -> int:
    return min(2**z - 1, max(0, int((lon + 180.0) / 360.0 * 2**z)))


def _tile_y(lat: float, z: int) -> int:
    lat = max(-85.0511287798, min(85.0511287798, lat))
    rad = math.radians(lat)
    return min(2**z - 1, max(0, int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * 2**z)))


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    return (_lon(x, z), _lat(y + 1, z), _lon(x + 1, z), _lat(y, z))


def _tile_ranges(bbox: tuple[float, float, float, float], z: int) -> tuple[range, range]:
    west, south, east, north = bbox
    return range(_tile_x(west, z), _tile_x(east, z) + 1), range(_tile_y(north, z), _tile_y(south, z) + 1)


def tile_count(bbox: tuple[float, float, float, float], z: int) -> int:
    """How many tiles ``tiles_for`` would list, without listing them (the world at level 12
    is 16 million tiles: the check must not build them)."""
    xs, ys = _tile_ranges(bbox, z)
    return len(xs) * len(ys)


def tiles_for(bbox: tuple[float, float, float, float], z: int) -> list[tuple[int, int]]:
    xs, ys = _tile_ranges(bbox, z)
    return [(x, y) for y in ys for x in xs]


class CountCache:
    """Thread-safe LRU of tile counts, keyed by (layer, version, filter, z, x, y)."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._items: OrderedDict[tuple[Any, ...], int] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, key: tuple[Any, ...]) -> int | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[Any, ...], value: int) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


def aggregate(
    store: Store,
    layer_id: str,
    bbox: tuple[float, float, float, float],
    level: int,
    *,
    where: Where | None,
    filter_key: str,
    cache: CountCache,
) -> dict[str, Any]:
    """GeoJSON: one point per non-empty tile (at the tile's centre), ``count`` and the
    tile's ``bbox`` in its properties; ``numberMatched`` is the sum of the counts."""
    metadata = store.metadata(layer_id) or {}
    version = (metadata.get("published_at"), metadata.get("geometry_count"))
    features = []
    total = 0
    for x, y in tiles_for(bbox, level):
        west, south, east, north = tile_bounds(level, x, y)
        key = (layer_id, version, filter_key, level, x, y)
        count = cache.get(key)
        if count is None:
            result = store.query(layer_id, bbox=[west, south, east - _EDGE, north - _EDGE], where=where, limit=0)
            count = int(result.number_matched)
            cache.put(key, count)
        if count == 0:
            continue
        total += count
        centre_lat = _lat(y + 0.5, level)
        features.append({
            "type": "Feature",
            "id": f"{level}/{x}/{y}",
            "geometry": {"type": "Point", "coordinates": [round((west + east) / 2, 7), round(centre_lat, 7)]},
            "properties": {"count": count, "bbox": [round(v, 7) for v in (west, south, east, north)]},
        })
    return {"type": "FeatureCollection", "features": features, "numberMatched": total,
            "numberReturned": len(features), "level": level}
