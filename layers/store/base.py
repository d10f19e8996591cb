"""The store interface: what ``layers/`` writes through and ``server/`` reads through.

Two implementations share it: the embedded GeoPackage store (``geopackage.py``) and,
later, PostGIS. Nothing outside a store implementation writes SQL. Geometries cross this
interface in WGS84 longitude/latitude (EPSG:4326 with x = longitude, i.e. OGC CRS84).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, Protocol, Sequence, Union, runtime_checkable

import geopandas as gpd
import numpy as np
import orjson
import shapely

from layers.errors import StoreError

BBox = Sequence[float]  # minx, miny, maxx, maxy in WGS84 longitude/latitude


class InvalidQueryError(StoreError):
    """A query the store cannot answer as asked (unknown property, bad value, bad bbox).

    A user error, not an outage: the API maps it to 400. It belongs with the other
    exceptions in ``layers/errors.py``; it lives here until that file gains it.
    """


# -- filters ------------------------------------------------------------------------
# A small, store-neutral filter tree. The API layer translates CQL2 (or simple
# ``property=value`` parameters) into it; each store compiles it to its own query language.

ComparisonOp = Literal["=", "<>", "<", "<=", ">", ">=", "like", "in", "between", "isnull"]


@dataclass(frozen=True)
class Comparison:
    """``property op value``; ``in`` takes a sequence, ``between`` a pair, ``isnull`` nothing."""

    property: str
    op: ComparisonOp
    value: Any = None


@dataclass(frozen=True)
class And:
    items: tuple["Where", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Where", ...]


@dataclass(frozen=True)
class Not:
    item: "Where"


SpatialOp = Literal[
    "intersects", "disjoint", "within", "contains", "equals", "touches", "overlaps", "crosses", "dwithin"
]


@dataclass(frozen=True)
class Spatial:
    """The feature's geometry ``op`` a literal ``geometry`` (shapely, WGS84 longitude/latitude).

    ``within`` reads "the feature lies within the literal"; ``dwithin`` takes ``distance``
    in metres, measured on the ellipsoid. A feature without geometry is neither inside
    nor outside: the predicate is unknown (SQL ``NULL``) for it, also under ``Not``.
    """

    op: SpatialOp
    geometry: Any
    distance: float | None = None


Where = Union[Comparison, And, Or, Not, Spatial]


# -- query results ------------------------------------------------------------------


@dataclass
class QueryResult:
    """One page of features and how many features match the whole query.

    Kept column-wise (ids, property rows, a shapely geometry array) so that callers can
    reproject all geometries in one vectorised call before building GeoJSON.
    """

    ids: list[str]
    properties: list[dict[str, Any]]
    geometries: np.ndarray  # shapely geometries (object array), None where missing
    number_matched: int
    with_geometry: bool = True

    @property
    def number_returned(self) -> int:
        return len(self.ids)

    def with_geometries(self, geometries: np.ndarray) -> "QueryResult":
        return QueryResult(self.ids, self.properties, geometries, self.number_matched, self.with_geometry)

    @property
    def features(self) -> list[dict[str, Any]]:
        """GeoJSON features (``geometry`` is ``None`` when absent or skipped)."""
        geometries = geometries_to_geojson(self.geometries) if self.with_geometry else [None] * len(self.ids)
        return [
            {"type": "Feature", "id": fid, "geometry": geom, "properties": props}
            for fid, geom, props in zip(self.ids, geometries, self.properties)
        ]


def geometries_to_geojson(geometries: np.ndarray) -> list[dict[str, Any] | None]:
    """Shapely array → GeoJSON geometry dicts, in one vectorised encode and one JSON parse."""
    if len(geometries) == 0:
        return []
    missing = shapely.is_missing(geometries)
    texts = shapely.to_geojson(np.where(missing, None, geometries))
    # One orjson call over the joined texts instead of one json.loads per feature.
    joined = b"[" + b",".join(t.encode() if t is not None else b"null" for t in texts) + b"]"
    return orjson.loads(joined)


@dataclass(frozen=True)
class LayerSnapshot:
    """One publication of a layer, read as a whole: its metadata and its features.

    For a reader that needs both (the fast JSON reads: validators from the metadata, then
    the rows). The GeoPackage store reads both from the one file it opened — the same
    publication even if a new one lands in between, and one check of the file's identity
    instead of one per call; the PostGIS store reads them in two statements.
    ``metadata`` is the store's own mapping: read it, never change it.
    """

    metadata: Mapping[str, Any]
    get: Callable[[str], dict[str, Any] | None]  # Store.get for this publication
    query: Callable[..., QueryResult]  # Store.query for this publication (keyword arguments)


# -- the interface -------------------------------------------------------------------

if TYPE_CHECKING:  # nearest.py imports this module: the type only, for the signature
    from .nearest import Neighbour


@runtime_checkable
class Store(Protocol):
    """Write a layer atomically; read it by bbox / filter / sort / page; count; get by id; nearest."""

    def publish(
        self,
        layer_id: str,
        frame: gpd.GeoDataFrame,
        metadata: Mapping[str, Any],
        field_types: Mapping[str, str],
        *,
        fail_after_write: Callable[[], None] | None = None,
        indexes: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Replace the layer with ``frame`` (all or nothing); return the stored metadata.

        ``indexes``: attribute columns to index (the filters people make), built before the
        new version becomes visible and listed in the metadata's ``indexes``."""
        ...

    def metadata(self, layer_id: str) -> dict[str, Any] | None:
        """The metadata stored with the layer, or ``None`` if it was never published."""
        ...

    def snapshot(self, layer_id: str) -> LayerSnapshot | None:
        """The layer's current publication (metadata and features), or ``None``."""
        ...

    def published(self) -> list[str]:
        """Ids of the published layers, sorted."""
        ...

    def path(self, layer_id: str) -> Path:
        """Where the layer lives (a file for the GeoPackage store)."""
        ...

    def read_layer(self, layer_id: str) -> gpd.GeoDataFrame:
        """The whole layer, with the types it was published with."""
        ...

    def count(self, layer_id: str) -> int:
        ...

    def query(
        self,
        layer_id: str,
        *,
        bbox: BBox | None = None,
        limit: int = 10,
        offset: int = 0,
        sortby: Sequence[str] | None = None,
        properties: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        where: Where | None = None,
        select: Sequence[str] | None = None,
        skip_geometry: bool = False,
        count: bool = True,
    ) -> QueryResult:
        """Features matching every criterion, in ``sortby`` order (``-name`` = descending)."""
        ...

    def get(self, layer_id: str, feature_id: str) -> dict[str, Any] | None:
        """One GeoJSON feature by its stable id, or ``None``."""
        ...

    def nearest(
        self, layer_id: str, lon: float, lat: float, *, where: Where | None = None, k: int = 1
    ) -> list["Neighbour"]:
        """The ``k`` features nearest to (lon, lat) among those matching ``where``, nearest
        first (ties: by id), with their geodesic distance in metres."""
        ...
