"""An in-process index of a published PostGIS point layer: bbox counts and pages without SQL.

The cost of a bbox page on PostGIS is not the page: it is ``numberMatched`` (an exact count
of every match) and the top-N in ``fid`` order over every match, on every request — 20 ms of
PostgreSQL CPU for a 2 km box at 1M points, 190 ms for a 50 km one. A point layer is small
once reduced to what a box needs (fid, x, y): 28–32 bytes a point, read once per process
and version in one statement (~0.5 s at 1M points), after which a box costs well under a
millisecond to count and a few to page, and PostgreSQL only reads the rows of the page by
primary key (``pg_read.rows_by_fid_statement``).

Layout (sort-tile): the points are sorted by x and cut into strips of ``STRIP`` points, each
strip sorted by y. A box touches a run of consecutive strips; in each, the points with
``miny <= y <= maxy`` are one contiguous slice. Strips lying wholly inside the box in x are
counted from their slice bounds alone; only the strips crossing its west or east edge test
x, on their slice. Strips follow the density of the layer (narrow in cities, wide in the
countryside), which a uniform grid over an extent stretched by a few remote points would not.

The slices of all strips come from one ``np.searchsorted`` over a sorted int64 key per point,
``strip * n + rank of y among all points``: ``miny <= y <= maxy`` is ``r0 <= rank < r1`` with
r0, r1 found once in the sorted y of the whole layer. (A per-strip binary search in numpy
took 0.2 ms a box, most of a city page's index time; this takes 0.02 ms.)

Semantics are those of the SQL (``pg_query._bbox_clause``): a point matches when
``minx <= x <= maxx and miny <= y <= maxy`` in float64, edges and corners included — what
``ST_Intersects`` with the box computes for points, exactly, for boxes where its arithmetic
cannot round (``usable_box``). Missing and empty geometries are not in the index: they never
match a box.

The object is immutable once built: threads share it without locks. ``PointIndexes`` keeps
one per layer, keyed by the publication version it was read from; at most one build per
layer runs at a time, other threads wait for it.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import psycopg

from .pg_query import LayerInfo

Box = tuple[float, float, float, float]

STRIP = 1024  # points per strip (at 1M points, 256–4096 are within 20 % of each other)
MAX_POINTS = 10_000_000  # above this, a layer stays with SQL (≈ 280 MB per process at 28 bytes a point)
# ``ST_Intersects`` on a polygon skips edges shorter than 1e-12 (PostGIS's point-in-ring test)
# and multiplies coordinate differences (which underflow near 0): keep such boxes for SQL.
_MIN_SIDE = 1e-9
_TINY = 1e-290


@dataclass(frozen=True)
class PointIndex:
    """fid, x, y of every point of one layer version, strip by strip (see module docstring)."""

    version: str | None  # of the publication read (None: the layer was no longer published)
    fids: np.ndarray  # int32 when every fid fits, else int64
    xs: np.ndarray  # float64, exactly the stored coordinates
    keys: np.ndarray  # int64, sorted: strip * size + rank of the point's y in sorted_ys
    sorted_ys: np.ndarray  # float64: the y of every point, sorted (exactly the stored ones)
    strip_min_x: np.ndarray  # float64, non-decreasing
    strip_max_x: np.ndarray  # float64, non-decreasing
    usable: bool = True  # False: this version has points the index cannot answer for (SQL then)

    @property
    def size(self) -> int:
        return len(self.fids)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.fids, self.xs, self.keys, self.sorted_ys, self.strip_min_x, self.strip_max_x))

    # -- queries ------------------------------------------------------------------------
    def _slices(self, box: Box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lo, hi, inside) of the strips the box touches: points [lo, hi) of each have
        ``miny <= y <= maxy``; ``inside`` marks the strips whose every x is in the box."""
        minx, miny, maxx, maxy = box
        first = int(np.searchsorted(self.strip_max_x, minx, side="left"))
        last = int(np.searchsorted(self.strip_min_x, maxx, side="right"))
        if first >= last:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0, dtype=bool)
        low = int(np.searchsorted(self.sorted_ys, miny, side="left"))  # points with y < miny
        high = int(np.searchsorted(self.sorted_ys, maxy, side="right"))  # points with y <= maxy
        bases = np.arange(first, last, dtype=np.int64) * self.size
        lo = np.searchsorted(self.keys, bases + low, side="left")
        hi = np.searchsorted(self.keys, bases + high, side="left")
        inside = (self.strip_min_x[first:last] >= minx) & (self.strip_max_x[first:last] <= maxx)
        return lo, hi, inside

    def count(self, box: Box) -> int:
        """Number of points in the box (edges included)."""
        lo, hi, inside = self._slices(box)
        total = int((hi[inside] - lo[inside]).sum())
        border = _positions(lo[~inside], hi[~inside])
        if len(border):
            x = self.xs[border]
            total += int(np.count_nonzero((x >= box[0]) & (x <= box[2])))
        return total

    def matches(self, box: Box) -> np.ndarray:
        """fids of the points in the box, in no particular order."""
        lo, hi, inside = self._slices(box)
        border = _positions(lo[~inside], hi[~inside])
        x = self.xs[border]
        border = border[(x >= box[0]) & (x <= box[2])]
        return np.concatenate([self.fids[_positions(lo[inside], hi[inside])], self.fids[border]])

    def page(self, box: Box, offset: int, limit: int) -> tuple[int, np.ndarray]:
        """(numberMatched, fids ``offset`` … ``offset + limit - 1`` of the matches in
        ascending fid order, as int64)."""
        if limit <= 0:
            return self.count(box), np.empty(0, dtype=np.int64)
        found = self.matches(box)
        return len(found), ordered_slice(found, offset, limit)


def ordered_slice(values: np.ndarray, offset: int, limit: int) -> np.ndarray:
    """``np.sort(values)[offset : offset + limit]`` of distinct values, without sorting them
    all: a partition puts ranks ``offset`` and ``end - 1`` in place and the ranks between them
    between (introselect, linear), then only the page is sorted."""
    n = len(values)
    end = min(offset + limit, n)
    if offset >= end:
        return np.empty(0, dtype=np.int64)
    if end - offset >= n // 2:  # most of them: a sort is as cheap
        return np.sort(values)[offset:end].astype(np.int64)
    kth = [offset, end - 1] if end - 1 > offset else [offset]
    part = np.partition(values, kth)
    return np.sort(part[offset:end]).astype(np.int64)


def _positions(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The concatenated ranges [lo[i], hi[i]) as one int64 array (no Python loop)."""
    lengths = hi - lo
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    keep = lengths > 0
    lo, lengths = lo[keep], lengths[keep]
    steps = np.ones(total, dtype=np.int64)
    heads = np.cumsum(lengths)[:-1]
    steps[0] = lo[0]
    # At the first position of each range, jump from the end of the previous one to its start.
    steps[heads] = lo[1:] - (lo[:-1] + lengths[:-1] - 1)
    return np.cumsum(steps)


def build(version: str | None, fids: np.ndarray, xs: np.ndarray, ys: np.ndarray, strip: int = STRIP) -> PointIndex:
    """The index of these points (any order; fids distinct)."""
    n = len(fids)
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    keys = np.empty(n, dtype=np.int64)
    keys[np.argsort(xs, kind="stable")] = np.arange(n, dtype=np.int64) // strip * n  # strip * n
    by_y = np.argsort(ys, kind="stable")
    keys[by_y] += np.arange(n, dtype=np.int64)  # + rank of y (ties: distinct ranks, any order)
    order = np.argsort(keys)
    xs, keys, fids = xs[order], keys[order], np.asarray(fids)[order]
    if n and int(fids.max()) < 2**31 and int(fids.min()) >= -(2**31):
        fids = fids.astype(np.int32)
    starts = np.arange(0, n, strip, dtype=np.int64)
    if n:
        strip_min_x = np.minimum.reduceat(xs, starts)
        strip_max_x = np.maximum.reduceat(xs, starts)
    else:
        strip_min_x = strip_max_x = np.empty(0, dtype=np.float64)
    return PointIndex(version, np.ascontiguousarray(fids), xs, keys, ys[by_y], strip_min_x, strip_max_x)


# -- which queries ---------------------------------------------------------------------------


def usable_box(box: Box) -> bool:
    """True when the index answers exactly as ``ST_Intersects`` for this box: finite values,
    sides either zero (a line or point, tested exactly by GEOS) or not shorter than _MIN_SIDE,
    no value so close to 0 that a product of differences could underflow."""
    if not all(math.isfinite(v) for v in box):
        return False
    minx, miny, maxx, maxy = box
    if minx > maxx or miny > maxy:
        return False
    if any(0 < abs(v) < _TINY for v in box):
        return False
    return all(side == 0 or side >= _MIN_SIDE for side in (maxx - minx, maxy - miny))


def indexable(info: LayerInfo) -> bool:
    """A layer of points only (metadata written at publication), not too large."""
    metadata = info.metadata
    count = metadata.get("geometry_count")
    return metadata.get("geometry_types") == ["Point"] and isinstance(count, int) and 0 < count <= MAX_POINTS


# -- reading ---------------------------------------------------------------------------------


def read(conn: psycopg.Connection, info: LayerInfo, metadata_table: str) -> PointIndex:
    """One statement: the version it read and every point's fid, x, y, as big-endian binary
    (``int8send``/``float8send``: exact doubles, no text round trip), one array each —
    0.5 s of PostgreSQL at 1M points where a million rows through the driver take seconds.
    Aggregates of one query level read the rows in one order: the three arrays line up."""
    sql = (
        f"SELECT (SELECT version FROM {metadata_table} WHERE layer_id = %s), "
        "string_agg(int8send(\"fid\"), ''), string_agg(float8send(ST_X(\"geom\")), ''), "
        "string_agg(float8send(ST_Y(\"geom\")), '') "
        f"FROM {info.table} WHERE \"geom\" IS NOT NULL AND NOT ST_IsEmpty(\"geom\")"
    )
    with conn.cursor(binary=True) as cursor:
        version, fid_bytes, x_bytes, y_bytes = cursor.execute(sql, [info.metadata.get("layer")]).fetchone()
    fids = np.frombuffer(fid_bytes or b"", dtype=">i8").astype(np.int64)
    xs = np.frombuffer(x_bytes or b"", dtype=">f8").astype(np.float64)
    ys = np.frombuffer(y_bytes or b"", dtype=">f8").astype(np.float64)
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        # NaN or infinite coordinates: compared by SQL in ways not worth mirroring.
        return replace(build(version, *(np.empty(0) for _ in range(3))), usable=False)
    return build(version, fids, xs, ys)


class PointIndexes:
    """One index per layer of this process, for the layer version it was read from."""

    def __init__(self) -> None:
        self._entries: dict[str, PointIndex] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, info: LayerInfo, load: Callable[[], PointIndex]) -> PointIndex:
        """The index of ``info``'s version, built by ``load`` when missing. Its version may
        differ from ``info.version`` (the layer was re-published since ``info`` was read):
        the caller then refreshes ``info`` and asks again, never serving the other version."""
        layer = str(info.metadata.get("layer"))
        with self._lock:
            before = self._entries.get(layer)
            build_lock = self._locks.setdefault(layer, threading.Lock())
        if before is not None and before.version == info.version:
            return before
        with build_lock:
            current = self._entries.get(layer)
            if current is not before and current is not None:
                return current  # built while we waited, from a read made after our request
            built = load()
            with self._lock:
                self._entries[layer] = built
            return built

    def drop(self, layer: str) -> None:
        with self._lock:
            self._entries.pop(layer, None)
