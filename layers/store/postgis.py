"""The scale-out store: the same ``Store`` interface on PostgreSQL/PostGIS.

Layout, in the schema given by the URL's ``schema`` parameter (``public`` by default):

* one table per layer, named after it: ``fid`` (bigint, primary key: the stable order of
  features, as the GeoPackage's fid), ``id`` (text, unique), one typed column per field
  (``pg_query.SQL_TYPES``) and ``geom`` (``geometry(Geometry, 4326)``, GiST index);
* ``geocommune_metadata``: one row per layer — ``layer_id`` (primary key), ``version`` (a
  random token, new at each publication), ``feature_count``, ``geometry_count``,
  ``published_at`` and ``metadata``, the same dict as the GeoPackage store's (``json``, not
  ``jsonb``, so that its key order — the column order of ``field_types`` — is kept).

Publication builds the new table beside the old one and swaps them in one transaction
(``pg_write``). Reads run in autocommit: a statement resolves the table name after taking
its lock, i.e. after any swap in progress, then reads one snapshot; so one statement sees
the old or the new version, whole. That is why a query's page, its ``numberMatched`` and
the layer version come from one statement (``pg_read``), and why reads never span a
transaction (a snapshot taken before a swap would see the new table empty). Every
statement also returns the layer version it read, checked against the version of the
column list it was compiled with (cached per process): a mismatch re-reads the metadata
and runs the read again. The few reads made of two statements (``nearest``,
``read_layer``) check that both saw the same version.
"""

from __future__ import annotations

import functools
import io
import threading
from collections import OrderedDict
from typing import Any, Callable, Mapping, Sequence, TypeVar

import geopandas as gpd
import orjson
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import shapely

from layers.errors import StoreError

from . import pg_point_index, pg_write
from .base import BBox, InvalidQueryError, LayerSnapshot, QueryResult, Where
from .nearest import Neighbour
from .pg_nearest import check_position, disc_statement, knn_statement, neighbours, rank
from .pg_pool import DEFAULT_POOL_SIZE, Connections, StoreUnavailableError, redact, split_url
from .pg_query import LayerInfo, build_where, ident, normalise_bboxes, text_expression
from .pg_read import alias_prefix, get_statement, materialise, page_statement, rows_by_fid_statement
from .pg_write import check_layer_id, layer_table, metadata_table

__all__ = ["PostGISStore", "StoreUnavailableError"]

T = TypeVar("T")

# Errors that mean "the layer changed under us": the cached column list is stale, or (on a
# read replica) the replay of a publication cancelled the statement. Read again.
_STALE = (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn, psycopg.errors.FeatureNotSupported,
          psycopg.errors.SerializationFailure)
_ATTEMPTS = 3
_COUNTS_KEPT = 512  # numberMatched of recent filtered queries, per store (key: layer version + filter)


class _Counts:
    """numberMatched of filtered queries already counted, for their next pages.

    Keyed by the layer version: a count is only ever served with rows of the version it
    was counted on (the statement's version check discards anything else)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[Any, ...], int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], default: int | None = None) -> int | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return default if value is None else value

    def put(self, key: tuple[Any, ...], value: int) -> None:
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > _COUNTS_KEPT:
                self._entries.popitem(last=False)


class PostGISStore:
    """The ``Store`` interface on a PostGIS database (``postgresql://…[?schema=…]``).

    ``point_index=False`` answers every bbox query in SQL (the reference the in-process
    point index is tested against, see ``pg_point_index``)."""

    def __init__(self, url: str, *, pool_size: int | None = None, point_index: bool = True) -> None:
        self.url = url.strip()
        conninfo, self.schema = split_url(self.url)
        self._connections = Connections(conninfo, pool_size or DEFAULT_POOL_SIZE)
        self._metadata_table = metadata_table(self.schema)
        self._layers: dict[str, LayerInfo] = {}
        self._counts = _Counts()
        self._point_index = point_index
        self._points = pg_point_index.PointIndexes()

    def __repr__(self) -> str:
        return f"PostGISStore({redact(self.url)!r})"

    @property
    def pool_size(self) -> int:
        return self._connections.pool_size

    # -- identity -------------------------------------------------------------------------
    def path(self, layer_id: str) -> str:  # type: ignore[override]  (a URL, not a file)
        """Where the layer lives: ``postgresql://user@host:port/db#schema.table`` (no password)."""
        check_layer_id(layer_id)
        base = redact(self._connections.conninfo).split("?", 1)[0]
        return f"{base}#{self.schema}.{layer_id}"

    # -- metadata ---------------------------------------------------------------------------
    def _fetch_info(self, layer_id: str) -> LayerInfo | None:
        """The layer's metadata row (one primary-key read); the cached info when unchanged."""
        cached = self._layers.get(layer_id)

        def work(conn: psycopg.Connection) -> tuple[Any, ...] | None:
            try:
                return conn.execute(
                    f"SELECT version, CASE WHEN version = %s THEN NULL ELSE metadata::text END "
                    f"FROM {self._metadata_table} WHERE layer_id = %s",
                    [cached.version if cached else None, layer_id],
                ).fetchone()
            except psycopg.errors.UndefinedTable:  # nothing ever published here
                return None

        row = self._connections.run(work)
        if row is None:
            self._layers.pop(layer_id, None)
            return None
        version, text = row
        if cached is not None and text is None and cached.version == version:
            return cached
        metadata = orjson.loads(text)
        types = dict(metadata.get("field_types", {}))
        info = LayerInfo(layer_table(self.schema, layer_id), version, metadata, tuple(types), types)
        self._layers[layer_id] = info
        return info

    def _info(self, layer_id: str, *, fresh: bool = False) -> LayerInfo:
        check_layer_id(layer_id)
        info = None if fresh else self._layers.get(layer_id)
        if info is None:
            info = self._fetch_info(layer_id)
        if info is None:
            raise StoreError(f"la couche « {layer_id} » n'est pas publiée", file=self.path(layer_id))
        return info

    def metadata(self, layer_id: str) -> dict[str, Any] | None:
        try:
            check_layer_id(layer_id)
        except StoreError:
            return None
        info = self._fetch_info(layer_id)
        # A shallow copy, as the GeoPackage store gives: callers add or replace top-level keys
        # but never change nested values. (A deep copy of the ingestion report it holds cost
        # half of a first-page request in a profile.)
        return dict(info.metadata) if info is not None else None

    def snapshot(self, layer_id: str) -> LayerSnapshot | None:
        # Two reads, not one: the metadata row now, the rows at each call (each checked
        # against its own version by ``_read``). A publication landing in between pairs this
        # metadata with the next version's rows, as separate metadata()/get() calls would.
        metadata = self.metadata(layer_id)
        if metadata is None:
            return None
        return LayerSnapshot(metadata, functools.partial(self.get, layer_id), functools.partial(self.query, layer_id))

    def columns(self, layer_id: str) -> tuple[str, ...]:
        return self._info(layer_id, fresh=True).columns

    def published(self) -> list[str]:
        def work(conn: psycopg.Connection) -> list[str]:
            try:
                rows = conn.execute(f"SELECT layer_id FROM {self._metadata_table} ORDER BY layer_id COLLATE \"C\"", ())
                return [row[0] for row in rows]
            except psycopg.errors.UndefinedTable:
                return []

        return self._connections.run(work)

    def count(self, layer_id: str) -> int:
        """From the metadata row (written with the table, in the swap): no table scan."""
        check_layer_id(layer_id)

        def work(conn: psycopg.Connection) -> tuple[Any, ...] | None:
            try:
                return conn.execute(
                    f"SELECT feature_count FROM {self._metadata_table} WHERE layer_id = %s", [layer_id]
                ).fetchone()
            except psycopg.errors.UndefinedTable:
                return None

        row = self._connections.run(work)
        if row is None:
            raise StoreError(f"la couche « {layer_id} » n'est pas publiée", file=self.path(layer_id))
        return int(row[0])

    # -- write --------------------------------------------------------------------------------
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
            label = self.path(layer_id)
        except StoreError:
            label = ""
        full = pg_write.publish(
            self._connections, self.schema, layer_id, frame, metadata, field_types,
            fail_after_write=fail_after_write, label=label, indexes=indexes,
        )
        self._layers.pop(layer_id, None)
        self._points.drop(layer_id)
        return full

    # -- read ------------------------------------------------------------------------------------
    def _read(
        self,
        layer_id: str,
        attempt_work: Callable[[LayerInfo, psycopg.Connection], tuple[str | None, T]],
        *,
        prepare: Callable[[LayerInfo], Callable[[LayerInfo, psycopg.Connection], tuple[str | None, T]]] | None = None,
    ) -> T:
        """Run ``attempt_work`` (one statement returning the layer version it saw) until the
        version matches the column list it was compiled with. ``prepare``, when given, chooses
        the work of each attempt from the layer info, before a connection is taken (it may
        build a point index, with a connection of its own)."""
        info = self._info(layer_id)
        for attempt in range(_ATTEMPTS):
            try:
                work = attempt_work if prepare is None else prepare(info)
                version, result = self._connections.run(lambda conn: work(info, conn))
            except _STALE:
                version, result = None, None
            except psycopg.errors.DataError as exc:  # a value PostgreSQL refuses (e.g. a LIKE pattern)
                raise InvalidQueryError(f"requête invalide : {str(exc).strip().splitlines()[0]}") from None
            except psycopg.errors.InternalError_ as exc:
                if "GEOS" not in str(exc) and "Topology" not in str(exc):
                    raise StoreError(f"lecture de la couche « {layer_id} » impossible : {str(exc).strip()}") from None
                raise InvalidQueryError(  # GEOS refused the geometries: the GeoPackage store's message
                    f"filter : prédicat spatial impossible à évaluer : {str(exc).strip().splitlines()[0]}",
                    field="filter",
                ) from None
            except psycopg.Error as exc:
                raise StoreError(f"lecture de la couche « {layer_id} » impossible : {str(exc).strip()}") from None
            if version is not None and version == info.version:
                return result
            info = self._info(layer_id, fresh=True)
        raise StoreUnavailableError(f"la couche « {layer_id} » change sans cesse : lecture abandonnée, réessayer")

    def _compile(self, layer_id: str, build: Callable[[LayerInfo], T]) -> tuple[LayerInfo, T]:
        info = self._info(layer_id)
        try:
            return info, build(info)
        except InvalidQueryError:
            # Maybe a property of a newer version than the one this process knows: check once.
            fresh = self._info(layer_id, fresh=True)
            if fresh.version == info.version:
                raise
            return fresh, build(fresh)

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
        def build(info: LayerInfo):
            return page_statement(
                info, self._metadata_table, bbox=bbox, limit=limit, offset=offset, sortby=sortby,
                properties=properties, where=where, select=select, skip_geometry=skip_geometry, count=count,
                known_counts=self._counts,
            )

        self._compile(layer_id, build)  # validation errors first, with the freshest column list

        def work(info: LayerInfo, conn: psycopg.Connection) -> tuple[str | None, QueryResult]:
            statement = build(info)
            with conn.cursor(binary=True) as cursor:
                rows = cursor.execute(statement.sql, statement.params).fetchall()
            version, matched = rows[0][0], rows[0][1]
            if statement.count_key is not None and version == info.version and matched is not None:
                self._counts.put(statement.count_key, int(matched))
            page = [row[2:] for row in rows if row[2] is not None]
            result = materialise(info, page, statement.names, with_geometry=statement.with_geometry,
                                 number_matched=int(matched) if matched is not None else 0)
            return version, result

        box = self._index_box(bbox, sortby=sortby, properties=properties, where=where) if self._point_index else None
        if box is None:
            return self._read(layer_id, work)

        def prepare(info: LayerInfo) -> Callable[[LayerInfo, psycopg.Connection], tuple[str | None, QueryResult]]:
            return self._by_point_index(info, box, work, limit=limit, offset=offset, select=select,
                                        skip_geometry=skip_geometry, count=count)

        return self._read(layer_id, work, prepare=prepare)

    # -- bbox pages from the point index ----------------------------------------------------
    @staticmethod
    def _index_box(
        bbox: BBox | None,
        *,
        sortby: Sequence[str] | None,
        properties: Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
        where: Where | None,
    ) -> tuple[float, float, float, float] | None:
        """The box when the point index can answer the query as the SQL would: a bbox (one
        box: an antimeridian pair stays with SQL) is the only condition, in the default order."""
        if sortby or properties or where is not None or bbox is None or not len(bbox):
            return None
        boxes = normalise_bboxes(bbox)  # already validated by the SQL compilation
        if len(boxes) != 1 or not pg_point_index.usable_box(boxes[0]):
            return None
        return boxes[0]

    def _by_point_index(
        self,
        info: LayerInfo,
        box: tuple[float, float, float, float],
        sql_work: Callable[[LayerInfo, psycopg.Connection], tuple[str | None, QueryResult]],
        *,
        limit: int,
        offset: int,
        select: Sequence[str] | None,
        skip_geometry: bool,
        count: bool,
    ) -> Callable[[LayerInfo, psycopg.Connection], tuple[str | None, QueryResult]]:
        """The work of one attempt: numberMatched and the page's fids from the layer's point
        index, then only the page's rows in SQL — or ``sql_work`` when this version of the
        layer is not for the index (not points only, or the box holds the whole layer: the
        SQL counts that from the metadata row)."""
        if not pg_point_index.indexable(info) or build_where(info, bbox=box, properties=None, where=None).whole_geometries:
            return sql_work
        index = self._points.get(
            info, lambda: self._connections.run(lambda conn: pg_point_index.read(conn, info, self._metadata_table))
        )
        if index.version != info.version:
            # Built from another publication than ``info``'s: let ``_read`` refresh the info.
            return lambda _info, _conn: (index.version, None)  # type: ignore[return-value]
        if not index.usable:
            return sql_work
        matched, fids = index.page(box, offset, limit)

        def work(info: LayerInfo, conn: psycopg.Connection) -> tuple[str | None, QueryResult]:
            sql, names, with_geometry = rows_by_fid_statement(
                info, self._metadata_table, select=select, skip_geometry=skip_geometry
            )
            with conn.cursor(binary=True) as cursor:
                rows = cursor.execute(sql, [info.metadata.get("layer"), fids.tolist()]).fetchall()
            page = [row[1:] for row in rows if row[1] is not None]
            result = materialise(info, page, names, with_geometry=with_geometry,
                                 number_matched=matched if count else -1)
            return rows[0][0], result

        return work

    def get(self, layer_id: str, feature_id: str) -> dict[str, Any] | None:
        def work(info: LayerInfo, conn: psycopg.Connection) -> tuple[str | None, dict[str, Any] | None]:
            sql, names = get_statement(info, self._metadata_table)
            with conn.cursor(binary=True) as cursor:
                rows = cursor.execute(sql, [layer_id, str(feature_id)]).fetchall()
            if not rows:
                return info.version, None  # nothing to check: a stale list would have failed
            feature = materialise(info, [rows[0][1:]], names, with_geometry=True, number_matched=1).features[0]
            return rows[0][0], feature

        return self._read(layer_id, work)

    def nearest(
        self, layer_id: str, lon: float, lat: float, *, where: Where | None = None, k: int = 1
    ) -> list[Neighbour]:
        """The ``k`` features nearest to (lon, lat) among those matching ``where``, nearest
        first (ties: by id), with their geodesic distance in metres (see ``pg_nearest``)."""
        lon, lat, k = check_position(lon, lat, k)
        self._compile(layer_id, lambda info: knn_statement(info, self._metadata_table, lon, lat, k, where))

        def work(info: LayerInfo, conn: psycopg.Connection) -> tuple[str | None, list[Neighbour]]:
            sql, params = knn_statement(info, self._metadata_table, lon, lat, k, where)
            with conn.cursor(binary=True) as cursor:
                rows = cursor.execute(sql, params).fetchall()
                if not rows:
                    return info.version, []
                if rows[0][0] != info.version:
                    return rows[0][0], []
                order, distances = rank([row[1:] for row in rows], lon, lat, k)
                radius = float(distances[order[-1]]) * (1 + 1e-9) + 1e-3
                sql, params, names = disc_statement(info, self._metadata_table, lon, lat, radius, where)
                near = cursor.execute(sql, params).fetchall()
            if not near or near[0][0] != info.version:
                return None, []  # re-published in between: start again
            return info.version, neighbours(info, [row[1:] for row in near], names, lon, lat, k)

        return self._read(layer_id, work)

    def read_layer(self, layer_id: str) -> gpd.GeoDataFrame:
        """The whole layer through ``COPY … TO STDOUT`` (CSV) parsed by Arrow, column-wise."""
        for _ in range(_ATTEMPTS):
            info = self._info(layer_id, fresh=True)
            try:
                data = self._connections.run(lambda conn: _copy_out(conn, info))
            except _STALE:
                continue
            # The version is re-read after the COPY: unchanged means no swap happened in between.
            after = self._fetch_info(layer_id)
            if after is not None and after.version == info.version:
                return _frame_from_csv(info, data)
        raise StoreUnavailableError(f"la couche « {layer_id} » change sans cesse : lecture abandonnée, réessayer")

    def close(self) -> None:
        self._connections.close()


# -- read_layer helpers -----------------------------------------------------------------------


def _copy_out(conn: psycopg.Connection, info: LayerInfo) -> bytes:
    parts = ['"id"']
    for name in info.columns:
        if name == "id":
            continue
        kind = info.field_types.get(name, "string")
        col = ident(name)
        if kind == "datetime":
            parts.append(f"to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS')")
        else:
            parts.append(text_expression(col, kind))
    parts.append("encode(ST_AsBinary(\"geom\"), 'hex')")
    statement = f"COPY (SELECT {', '.join(parts)} FROM {info.table} ORDER BY \"fid\") TO STDOUT WITH (FORMAT csv)"
    buffer = io.BytesIO()
    with conn.cursor() as cursor, cursor.copy(statement.replace("%%", "%")) as copy:
        for block in copy:
            buffer.write(block)
    return buffer.getvalue()


_ARROW_TYPES = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("ms"),
}


def _frame_from_csv(info: LayerInfo, data: bytes) -> gpd.GeoDataFrame:
    wkb = alias_prefix(info) + "wkb"  # a name no column has
    names = ["id", *[c for c in info.columns if c != "id"], wkb]
    types = {name: _ARROW_TYPES.get(info.field_types.get(name, "string"), pa.string()) for name in names}
    types[wkb] = pa.string()
    if not data:  # an empty layer: Arrow refuses an empty CSV
        table = pa.table({name: pa.array([], type=t) for name, t in types.items()})
    else:
        table = _read_csv(data, names, types)
    return _to_frame(info, names, table)


def _read_csv(data: bytes, names: list[str], types: dict[str, pa.DataType]) -> pa.Table:
    return pa_csv.read_csv(
        io.BytesIO(data),
        read_options=pa_csv.ReadOptions(column_names=names),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=types, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False,
            true_values=["t"], false_values=["f"],
        ),
    )


def _to_frame(info: LayerInfo, names: list[str], table: pa.Table) -> gpd.GeoDataFrame:
    columns: dict[str, Any] = {}
    for name in names[:-1]:
        kind = info.field_types.get(name, "string")
        array = table.column(name)
        if kind == "integer":
            columns[name] = pd.Series(array.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))
        elif kind == "boolean":
            columns[name] = pd.Series(array.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get))
        elif kind == "datetime":
            columns[name] = pd.Series(array.cast(pa.timestamp("ms", tz="UTC")).to_pandas())
        elif kind == "date":
            columns[name] = pd.Series(array.to_pylist(), dtype=object)
        elif kind in ("array", "object"):
            columns[name] = pd.Series([None if v is None else orjson.loads(v) for v in array.to_pylist()], dtype=object)
        else:
            columns[name] = pd.Series(array.to_pandas())
    geometries = shapely.from_wkb(table.column(names[-1]).to_numpy(zero_copy_only=False))
    frame = pd.DataFrame(columns)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometries, crs="EPSG:4326"), crs="EPSG:4326")
