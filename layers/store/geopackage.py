"""The embedded store: one GeoPackage file per layer in the data folder.

Publication is atomic: the layer is written to a hidden temporary file next to the
published one (same file system), completed (id index, attribute indexes, metadata
table), flushed to disk and only then renamed over the published file with
``os.replace``. Readers keep reading the old file (they hold it open) until they notice
the new one; a failure at any step leaves the published file untouched and removes the
temporary file.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import secrets
import sqlite3
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyogrio
import shapely

from layers.errors import PublicationError, StoreError

from .base import BBox, LayerSnapshot, QueryResult, Where
from .gpkg_query import count_all, get_feature, run_query
from .gpkg_reader import METADATA_TABLE, LayerReaders, OpenLayer, file_token, quote
from .nearest import Neighbour, nearest_features

STORE_FORMAT_VERSION = 1
LAYER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
SUFFIX = ".gpkg"

# GDAL GeoPackage layer options: the names the read side relies on.
LAYER_OPTIONS = {"GEOMETRY_NAME": "geom", "FID": "fid", "SPATIAL_INDEX": "YES"}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _infer_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    sample = series.dropna()
    first = sample.iloc[0] if len(sample) else None
    if isinstance(first, (list, tuple, np.ndarray)):
        return "array"
    if isinstance(first, dict):
        return "object"
    if isinstance(first, dt.datetime):
        return "datetime"
    if isinstance(first, dt.date):
        return "date"
    return "string"


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _to_json_text(series: pd.Series) -> pd.Series:
    """Lists / dicts → JSON text (GeoPackage has no list type).

    Normalisation shares one list object between all rows holding the same value, so each
    distinct object is encoded once (keyed by identity), then spread to its rows.
    """
    values = series.to_numpy(dtype=object)
    keys = np.fromiter((id(v) for v in values), dtype=np.int64, count=len(values))
    codes, uniques = pd.factorize(keys)
    first = np.empty(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    encoded = np.array(
        [None if _missing(v) else orjson.dumps(v.tolist() if isinstance(v, np.ndarray) else v).decode()
         for v in values[first]],
        dtype=object,
    )
    return pd.Series(encoded[codes] if len(codes) else encoded, index=series.index, dtype="string")


def _typed_column(series: pd.Series, kind: str) -> pd.Series:
    """One column converted to what GDAL should store for its field type."""
    if kind in ("array", "object"):
        return _to_json_text(series)
    if kind == "boolean":
        return series.astype("boolean")
    if kind == "integer":
        return series.astype("Int64")
    if kind == "number":
        return series.astype("Float64").astype("float64")
    if kind == "date":
        if pd.api.types.is_datetime64_any_dtype(series):
            return pd.Series(series.dt.date, index=series.index, dtype=object)
        return series
    if kind == "datetime":
        return series
    # string and everything else: text, keeping missing cells missing ("06000" stays "06000").
    if pd.api.types.is_string_dtype(series) and not pd.api.types.is_object_dtype(series):
        return series
    return series.astype("string")


def prepare_frame(
    layer_id: str, frame: gpd.GeoDataFrame, field_types: Mapping[str, str]
) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """Check the frame and give every column its stored type; returns (frame, field types)."""
    if not isinstance(frame, gpd.GeoDataFrame):
        raise PublicationError(f"couche « {layer_id} » : un GeoDataFrame est attendu")
    if "id" not in frame.columns:
        raise PublicationError(f"couche « {layer_id} » : la colonne « id » (identifiant stable) manque", field="id")
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        raise PublicationError(
            f"couche « {layer_id} » : les géométries doivent être en WGS84 (EPSG:4326), reçu {frame.crs.to_string()}"
        )
    ids = frame["id"]
    if ids.isna().any():
        raise PublicationError(f"couche « {layer_id} » : {int(ids.isna().sum())} entité(s) sans identifiant", field="id")
    # Uniqueness is enforced by the unique index built in the temporary file (cheaper
    # than a pandas check on a million strings); see _complete_file.
    if not (pd.api.types.is_string_dtype(ids) and not pd.api.types.is_object_dtype(ids)):
        ids = ids.astype("string")
    geometry_name = frame.geometry.name
    columns: dict[str, pd.Series] = {"id": ids}
    types: dict[str, str] = {"id": "string"}
    for name in frame.columns:
        if name in ("id", geometry_name):
            continue
        if name.lower() in ("fid", "geom"):
            raise PublicationError(f"couche « {layer_id} » : nom de colonne réservé « {name} »", field=name)
        kind = field_types.get(name) or _infer_type(frame[name])
        columns[name] = _typed_column(frame[name], kind)
        types[name] = kind
    geometries = frame.geometry.values
    empty = shapely.is_empty(geometries)
    if empty.any():
        # An empty geometry has no location: stored as NULL, so that "has a geometry" is
        # one SQL test (the R-tree leaves both out) and GeoJSON says "geometry": null.
        geometries = geometries.copy()
        geometries[empty] = None
    prepared = gpd.GeoDataFrame(
        pd.DataFrame(columns, index=frame.index),
        geometry=gpd.GeoSeries(geometries, index=frame.index, crs="EPSG:4326").rename("geom"),
        crs="EPSG:4326",
    )
    return prepared.reset_index(drop=True), types


_GEOMETRY_NAMES = {
    0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
    5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection",
}


def _extent(frame: gpd.GeoDataFrame) -> list[float] | None:
    bounds = shapely.total_bounds(frame.geometry.values)  # ignores missing and empty geometries
    if np.isnan(bounds).any():
        return None
    return [float(v) for v in bounds]


def _geometry_types(frame: gpd.GeoDataFrame) -> list[str]:
    codes = np.unique(shapely.get_type_id(frame.geometry.values))
    return sorted(_GEOMETRY_NAMES[int(c)] for c in codes if c >= 0)


# Field types an attribute index cannot serve: a list or object is filtered on its
# elements (JSON), never by comparing the whole cell.
UNINDEXABLE_TYPES = ("array", "object")


def check_indexes(layer_id: str, types: Mapping[str, str], indexes: Sequence[str]) -> tuple[str, ...]:
    """The fields to index, each a published attribute column that an index can serve.

    The catalogue checks the names against the national schema; this is the store's own
    guard, before anything is written (a caller passing a column the frame lacks)."""
    wanted = tuple(dict.fromkeys(indexes))  # duplicates once, order kept
    for name in wanted:
        if name == "id":
            raise PublicationError(f"couche « {layer_id} » : « id » est déjà indexé (identifiant unique)", field=name)
        if name not in types:
            known = ", ".join(n for n in types if n != "id")
            raise PublicationError(
                f"couche « {layer_id} » : index demandé sur « {name} », qui n'est pas une colonne publiée "
                f"(colonnes : {known})",
                field=name,
            )
        if types[name] in UNINDEXABLE_TYPES:
            raise PublicationError(
                f"couche « {layer_id} » : index impossible sur « {name} », de type {types[name]}", field=name
            )
    return wanted


def build_metadata(
    layer_id: str,
    frame: gpd.GeoDataFrame,
    metadata: Mapping[str, Any],
    types: dict[str, str],
    indexes: Sequence[str] = (),
) -> dict[str, Any]:
    full = dict(metadata)
    full["layer"] = layer_id
    full.setdefault("ingested_at", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    full["published_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    full["counts"] = {**dict(metadata.get("counts") or {}), "published": int(len(frame))}
    full["extent"] = _extent(frame)
    full["geometry_count"] = int((~shapely.is_missing(frame.geometry.values)).sum())
    full["geometry_types"] = _geometry_types(frame)
    full["field_types"] = types
    full["indexes"] = list(indexes)
    full["store"] = {"format": "GeoPackage", "version": STORE_FORMAT_VERSION}
    return full


def index_name(layer_id: str, field: str) -> str:
    return f"idx_{layer_id}_{field}"


def _complete_file(path: Path, layer_id: str, metadata: dict[str, Any]) -> None:
    """Inside the temporary file: unique index on ``id``, one index per field of the
    metadata's ``indexes`` and the metadata table, one transaction."""
    indexes = metadata.get("indexes") or ()
    # orjson without a default: metadata that cannot be serialised fails here, loudly.
    text = orjson.dumps(metadata, option=orjson.OPT_NON_STR_KEYS).decode()
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN")
        try:
            connection.execute(
                f"CREATE UNIQUE INDEX {quote(f'idx_{layer_id}_id')} ON {quote(layer_id)} ({quote('id')})"
            )
        except sqlite3.IntegrityError:
            duplicates = [row[0] for row in connection.execute(
                f"SELECT id FROM {quote(layer_id)} GROUP BY id HAVING count(*) > 1 LIMIT 5"
            )]
            raise PublicationError(
                f"couche « {layer_id} » : identifiant(s) en double : {', '.join(map(str, duplicates))}", field="id"
            ) from None
        for name in indexes:
            # SQLite appends the rowid (our fid) to every index entry: "WHERE col = ? ORDER BY
            # fid LIMIT n" reads the matches already in page order, and count(*) reads only
            # the index.
            connection.execute(f"CREATE INDEX {quote(index_name(layer_id, name))} ON {quote(layer_id)} ({quote(name)})")
        if indexes:
            # Statistics, so that the planner knows which index is selective: without them,
            # etat_fonct = 'En fonctionnement' AND com_nom = 'Lyon' may read the nine tenths
            # of the layer in service instead of Lyon's entries. A full ANALYZE (0.4 s at 1M
            # rows, a tenth of the index builds): a sampled one (analysis_limit) saw a few
            # hundred rows of one key and rated every index alike.
            connection.execute(f"ANALYZE {quote(layer_id)}")
        # Registered as a GeoPackage "attributes" table, so that the file stays
        # conformant: GDAL and QGIS list it next to the layer as a plain table.
        connection.execute(
            f"CREATE TABLE {METADATA_TABLE} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "
            "layer_id TEXT NOT NULL UNIQUE, format_version INTEGER NOT NULL, metadata TEXT NOT NULL)"
        )
        connection.execute(
            f"INSERT INTO {METADATA_TABLE} (layer_id, format_version, metadata) VALUES (?, ?, ?)",
            (layer_id, STORE_FORMAT_VERSION, text),
        )
        connection.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
            "VALUES (?, 'attributes', ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            (METADATA_TABLE, METADATA_TABLE, f"Métadonnées de publication de la couche {layer_id} (JSON)"),
        )
        connection.execute("COMMIT")
    finally:
        connection.close()


# ``query``'s defaults, for a snapshot's (``run_query`` takes every argument).
_QUERY_DEFAULTS: dict[str, Any] = {
    "bbox": None, "limit": 10, "offset": 0, "sortby": None, "properties": None, "where": None,
    "select": None, "skip_geometry": False, "count": True,
}


class GeoPackageStore:
    """The ``Store`` interface on GeoPackage files in ``data_dir``."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self._readers = LayerReaders()
        self._paths: dict[str, Path] = {}  # checked layer id → its file (asked at every request)

    def __repr__(self) -> str:
        return f"GeoPackageStore({str(self.data_dir)!r})"

    # -- files ---------------------------------------------------------------------
    def path(self, layer_id: str) -> Path:
        path = self._paths.get(layer_id)
        if path is None:
            if not LAYER_ID.match(layer_id):
                raise StoreError(f"identifiant de couche invalide « {layer_id} » (attendu : minuscules, chiffres, - et _)")
            path = self._paths.setdefault(layer_id, self.data_dir / f"{layer_id}{SUFFIX}")
        return path

    def _layer(self, layer_id: str) -> OpenLayer:
        layer = self._readers.get(self.path(layer_id), layer_id)
        if layer is None:
            raise StoreError(f"la couche « {layer_id} » n'est pas publiée", file=self.path(layer_id))
        return layer

    def published(self) -> list[str]:
        if not self.data_dir.is_dir():
            return []
        ids = []
        for path in sorted(self.data_dir.glob(f"*{SUFFIX}")):
            layer_id = path.name[: -len(SUFFIX)]
            if LAYER_ID.match(layer_id) and self.metadata(layer_id) is not None:
                ids.append(layer_id)
        return ids

    # -- write ---------------------------------------------------------------------
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
        try:
            final = self.path(layer_id)
        except StoreError as exc:
            raise PublicationError(exc.message) from None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.data_dir / f".{layer_id}{SUFFIX}.tmp-{secrets.token_hex(8)}"
        try:
            prepared, types = prepare_frame(layer_id, frame, field_types)
            full = build_metadata(layer_id, prepared, metadata, types, check_indexes(layer_id, types, indexes))
            with warnings.catch_warnings():
                # GDAL warns that ".gpkg.tmp-…" is not a ".gpkg" name; the name is what
                # keeps the temporary file hidden and recognisable, and it is renamed at the end.
                warnings.filterwarnings("ignore", message="The filename extension should be", category=RuntimeWarning)
                pyogrio.write_dataframe(
                    prepared, temporary, layer=layer_id, driver="GPKG", use_arrow=True, layer_options=LAYER_OPTIONS
                )
            if fail_after_write is not None:
                fail_after_write()
            _complete_file(temporary, layer_id, full)
            _fsync(temporary)
            os.replace(temporary, final)
            _fsync(self.data_dir)  # the rename itself is durable
            token = file_token(final)
            # As metadata() will give it: with this publication's token (not stored in the file).
            return full if token is None else {**full, "store": {**full["store"], "publication": token}}
        except PublicationError as exc:
            self._discard(temporary)
            if exc.file is None:
                exc.file = str(final)
            raise
        except Exception as exc:
            self._discard(temporary)
            raise PublicationError(
                f"publication de la couche « {layer_id} » impossible, la version publiée est conservée : "
                f"{type(exc).__name__}: {exc}",
                file=final,
            ) from exc
        except BaseException:  # KeyboardInterrupt…: clean up, do not disguise it
            self._discard(temporary)
            raise

    @staticmethod
    def _discard(temporary: Path) -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{temporary}{suffix}").unlink(missing_ok=True)

    # -- read ----------------------------------------------------------------------
    def _published(self, layer_id: str) -> OpenLayer | None:
        """The open file of a published layer, or None (unknown, invalid id, no metadata)."""
        try:
            layer = self._readers.get(self.path(layer_id), layer_id)
        except StoreError:
            return None
        return layer if layer is not None and layer.metadata else None

    def metadata(self, layer_id: str) -> dict[str, Any] | None:
        layer = self._published(layer_id)
        return dict(layer.metadata) if layer is not None else None

    def snapshot(self, layer_id: str) -> LayerSnapshot | None:
        layer = self._published(layer_id)
        if layer is None:
            return None
        # Made at each call, not kept on the layer: a layer → snapshot → layer cycle would keep
        # a replaced file open (and its disk space taken) until the cyclic GC came by.
        return LayerSnapshot(
            layer.metadata, functools.partial(get_feature, layer), functools.partial(run_query, layer, **_QUERY_DEFAULTS)
        )

    def columns(self, layer_id: str) -> tuple[str, ...]:
        return self._layer(layer_id).columns

    def count(self, layer_id: str) -> int:
        return count_all(self._layer(layer_id))

    def read_layer(self, layer_id: str) -> gpd.GeoDataFrame:
        layer = self._layer(layer_id)
        frame = pyogrio.read_dataframe(layer.path, layer=layer_id, use_arrow=True)
        for name, kind in layer.field_types.items():
            if name not in frame.columns:
                continue
            if kind in ("array", "object"):
                frame[name] = pd.Series(
                    [None if _missing(v) else orjson.loads(v) for v in frame[name].to_numpy(dtype=object)],
                    index=frame.index,
                    dtype=object,
                )
            elif kind == "integer" and not pd.api.types.is_integer_dtype(frame[name]):
                frame[name] = frame[name].astype("Int64")
            elif kind == "boolean" and not pd.api.types.is_bool_dtype(frame[name]):
                frame[name] = frame[name].astype("boolean")
            elif kind == "date" and pd.api.types.is_datetime64_any_dtype(frame[name]):
                frame[name] = pd.Series(frame[name].dt.date, index=frame.index, dtype=object)
        return frame.set_crs("EPSG:4326", allow_override=True)

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
        return run_query(
            self._layer(layer_id),
            bbox=bbox,
            limit=limit,
            offset=offset,
            sortby=sortby,
            properties=properties,
            where=where,
            select=select,
            skip_geometry=skip_geometry,
            count=count,
        )

    def get(self, layer_id: str, feature_id: str) -> dict[str, Any] | None:
        return get_feature(self._layer(layer_id), feature_id)

    def nearest(
        self, layer_id: str, lon: float, lat: float, *, where: Where | None = None, k: int = 1
    ) -> list[Neighbour]:
        """The ``k`` features nearest to (lon, lat) among those matching ``where``, nearest
        first (ties: by id), with their geodesic distance in metres (see ``nearest.py``)."""
        return nearest_features(self._layer(layer_id), lon, lat, where=where, k=k)

    def close(self) -> None:
        self._readers.close()
