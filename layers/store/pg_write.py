"""Publication into PostGIS: the new version is built beside the old one, then swapped in.

Everything happens in ONE transaction on a connection of its own:

1. ``CREATE TABLE "<layer>__new_<random>"`` with typed columns, filled by ``COPY … FROM STDIN
   (FORMAT csv, FREEZE)`` from Arrow record batches (column-wise, no Python loop per row);
2. primary key on ``fid`` (the stable tie-break of every sort), unique index on ``id``
   (duplicates refused with their ids), GiST index on ``geom``, a btree ``(field, fid)`` per
   indexed field of the catalogue, ``ANALYZE``;
3. the swap: ``DROP TABLE "<layer>"``, ``ALTER TABLE … RENAME TO "<layer>"`` and the upsert of
   the layer's row in ``geocommune_metadata``; then ``COMMIT``.

Until the commit nobody else sees the new table; at the commit readers switch from the old
version to the new one at once (the swap takes the old table's exclusive lock, so it waits
for the reads in flight — at most ``SWAP_LOCK_TIMEOUT``, retried — and the reads that
arrive meanwhile wait for it, a catalogue-only operation). Any failure, including a lost
connection or a crash of this process, rolls the whole transaction back: the old version
stays, and no half-built table is left behind.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, Callable, Mapping, Sequence

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import psycopg
import shapely

from layers.errors import PublicationError, StoreError

from .geopackage import LAYER_ID, build_metadata, check_indexes, prepare_frame
from .pg_pool import Connections, StoreUnavailableError, is_connection_lost, unavailable
from .pg_query import ident, sql_type

STORE_FORMAT_VERSION = 1
METADATA_TABLE = "geocommune_metadata"
BATCH_ROWS = 50_000
SWAP_LOCK_TIMEOUT = "5s"
SWAP_ATTEMPTS = 3


def _literal(text: str) -> str:
    """A SQL string literal, for the few utility statements that take no parameters (COMMENT)."""
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def metadata_table(schema: str) -> str:
    return f"{ident(schema)}.{ident(METADATA_TABLE)}"


def layer_table(schema: str, layer_id: str) -> str:
    return f"{ident(schema)}.{ident(layer_id)}"


def check_layer_id(layer_id: str) -> None:
    if not isinstance(layer_id, str) or not LAYER_ID.match(layer_id):
        raise StoreError(f"identifiant de couche invalide « {layer_id} » (attendu : minuscules, chiffres, - et _)")


# -- frame → Arrow → CSV ------------------------------------------------------------------


def _datetimes(series: pd.Series, name: str) -> pa.Array:
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series if series.dt.tz is not None else series.dt.tz_localize("UTC")
    else:
        present = series.notna()
        values = pd.to_datetime(series.where(present, None), utc=True, format="ISO8601", errors="coerce")
        bad = present & values.isna()
        if bad.any():
            raise PublicationError(
                f"date-heure illisible « {series[bad].iloc[0]} » ({int(bad.sum())} valeur(s)) : "
                "attendu ISO 8601 (AAAA-MM-JJTHH:MM:SS…)",
                field=name,
            )
    # Millisecond precision, like the GeoPackage (GDAL) store.
    return pa.array(values.dt.tz_convert("UTC").dt.floor("ms"), from_pandas=True).cast(pa.timestamp("ms", tz="UTC"))


def _dates(series: pd.Series) -> pa.Array:
    if pd.api.types.is_datetime64_any_dtype(series):
        return pa.array(series.dt.date, type=pa.date32(), from_pandas=True)
    values = series.to_numpy(dtype=object)
    present = pd.notna(series).to_numpy()
    if present.any() and all(hasattr(v, "isoformat") for v in values[present][:1]):
        return pa.array([v if p else None for v, p in zip(values, present)], type=pa.date32())
    return pa.array(series.astype("string"), type=pa.string(), from_pandas=True)  # ISO text, parsed by PostgreSQL


def _geometries(geometries: np.ndarray) -> tuple[pa.Array, str]:
    """Hex WKB for COPY and the column's geometry type (2D unless the data has Z)."""
    has_z = shapely.has_z(geometries)
    present = ~shapely.is_missing(geometries)
    mixed = bool(has_z.any()) and not has_z[present].all()
    if mixed:  # 2D and 3D: no typmod holds both; the SRID is checked by a constraint
        kind = "geometry CHECK (ST_SRID(geom) = 4326)"
        geometries = shapely.set_srid(geometries, 4326)
    else:  # WKB without SRID: PostGIS gives it the column's (4326)
        kind = "geometry(GeometryZ, 4326)" if has_z.any() else "geometry(Geometry, 4326)"
    hexes = shapely.to_wkb(geometries, hex=True, include_srid=mixed, output_dimension=3 if has_z.any() else 2)
    return pa.array(hexes, type=pa.string(), from_pandas=True), kind


def arrow_table(prepared: gpd.GeoDataFrame, types: Mapping[str, str]) -> tuple[pa.Table, dict[str, str]]:
    """The prepared frame as an Arrow table in table order (fid, id, …, geom) and the SQL types."""
    columns: dict[str, pa.Array] = {"fid": pa.array(np.arange(1, len(prepared) + 1, dtype=np.int64))}
    sql_types: dict[str, str] = {"fid": "bigint NOT NULL"}
    for name, kind in types.items():
        series = prepared[name]
        if kind == "datetime":
            array = _datetimes(series, name)
        elif kind == "date":
            array = _dates(series)
        elif kind == "integer":
            array = pa.array(series.astype("Int64"), type=pa.int64(), from_pandas=True)
        elif kind == "number":
            array = pa.array(series.astype("float64"), type=pa.float64(), from_pandas=True)
        elif kind == "boolean":
            array = pa.array(series.astype("boolean"), type=pa.bool_(), from_pandas=True)
        else:  # text, and the JSON text of lists and objects
            array = pa.array(series.astype("string"), type=pa.string(), from_pandas=True)
        columns[name] = array
        sql_types[name] = sql_type(kind) + (" NOT NULL" if name == "id" else "")
    columns["geom"], sql_types["geom"] = _geometries(prepared.geometry.values)
    return pa.table(columns), sql_types


def spatial_order(geometries: gpd.GeoSeries) -> np.ndarray:
    """Row order along a Hilbert curve over the layer's extent (no geometry: last).

    The rows are written in this order — their ``fid`` is kept — so that the features of a
    bbox sit on a few neighbouring table pages instead of one page each: the count and the
    page of a city bbox at 1M points read hundreds of pages instead of thousands (what
    ``CLUSTER`` on the GiST index would do, without rewriting the table a second time)."""
    present = ~(geometries.isna() | geometries.is_empty).to_numpy()
    keys = np.full(len(geometries), np.iinfo(np.int64).max, dtype=np.int64)
    if present.any():
        keys[present] = geometries[present].hilbert_distance(level=16).to_numpy(dtype=np.int64)
    return np.argsort(keys, kind="stable")


def _copy_rows(cursor: psycopg.Cursor, table: str, data: pa.Table) -> None:
    names = ", ".join(ident(n) for n in data.column_names)
    options = pa_csv.WriteOptions(include_header=False, quoting_style="all_valid")
    # COPY statements are sent without parameters: "%" is not an escape there.
    statement = f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv, FREEZE)".replace("%%", "%")
    with cursor.copy(statement) as copy:
        for batch in data.to_batches(max_chunksize=BATCH_ROWS):
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(pa.Table.from_batches([batch]), sink, options)
            copy.write(sink.getvalue().to_pybytes())


# -- publication --------------------------------------------------------------------------


def ensure_base(conn: psycopg.Connection, schema: str) -> None:
    """The schema, PostGIS and the metadata table (idempotent; one creator at a time)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('geocommune:base'))", ())
        if not conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'", ()).fetchone():
            try:
                with conn.transaction():
                    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis", ())
            except psycopg.Error as exc:
                raise PublicationError(
                    "l'extension PostGIS est absente de la base et ne peut pas y être créée "
                    f"(CREATE EXTENSION postgis, en administrateur) : {str(exc).strip()}"
                ) from None
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}", ())
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {metadata_table(schema)} ("
            "layer_id text PRIMARY KEY, version text NOT NULL, format_version integer NOT NULL, "
            "feature_count bigint NOT NULL, geometry_count bigint NOT NULL, "
            "published_at timestamptz NOT NULL, metadata json NOT NULL)",
            (),
        )


def field_index_name(layer_id: str, field: str) -> str:
    """The published name of the index on ``field`` (PostgreSQL cuts names at 63 bytes: a
    long one ends with a digest of the field name instead, so that two never collide)."""
    name = f"{layer_id}__{field}"
    if len(name.encode()) <= 63:
        return name
    return f"{layer_id[:40]}__{hashlib.sha1(field.encode()).hexdigest()[:16]}"


def _field_indexes(short: str, layer_id: str, fields: Sequence[str]) -> list[tuple[str, str, str]]:
    """(field, name while building, published name) of each attribute index."""
    return [(name, f"{short}_{position}", field_index_name(layer_id, name)) for position, name in enumerate(fields)]


def _create_indexes(
    conn: psycopg.Connection, layer_id: str, table: str, short: str, fields: Sequence[str] = ()
) -> None:
    conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {ident(short + '_pkey')} PRIMARY KEY (fid)", ())
    try:
        with conn.transaction():  # savepoint: the duplicates can still be listed after the failure
            conn.execute(f"CREATE UNIQUE INDEX {ident(short + '_id')} ON {table} (id)", ())
    except psycopg.errors.UniqueViolation:
        duplicates = [row[0] for row in conn.execute(
            f"SELECT id FROM {table} GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT 5", ()
        )]
        raise PublicationError(
            f"couche « {layer_id} » : identifiant(s) en double : {', '.join(map(str, duplicates))}", field="id"
        ) from None
    conn.execute(f"CREATE INDEX {ident(short + '_geom')} ON {table} USING gist (geom)", ())
    for name, building, _published in _field_indexes(short, layer_id, fields):
        # (field, fid): "WHERE field = $1 ORDER BY fid LIMIT n" reads the page in order and
        # stops, and count(*) and the page's fids come from the index alone (COPY FREEZE
        # left every page all-visible). The index takes the column's collation ("C" for
        # text), the one the comparisons resolve to, so the planner can use it.
        conn.execute(f"CREATE INDEX {ident(building)} ON {table} ({ident(name)}, fid)", ())
    conn.execute(f"ANALYZE {table}", ())


def _swap(conn: psycopg.Connection, schema: str, layer_id: str, new_name: str, full: dict[str, Any], version: str) -> None:
    final = layer_table(schema, layer_id)
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"geocommune:{schema}.{layer_id}"])
    for attempt in range(1, SWAP_ATTEMPTS + 1):
        try:
            with conn.transaction():  # savepoint: a lock timeout is retried, not fatal
                conn.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'", ())
                conn.execute(f"DROP TABLE IF EXISTS {final}", ())
                conn.execute(f"ALTER TABLE {ident(schema)}.{ident(new_name)} RENAME TO {ident(layer_id)}", ())
                renames = [(f"{new_name}_pkey", f"{layer_id}_pkey"), (f"{new_name}_id", f"{layer_id}_id"),
                           (f"{new_name}_geom", f"{layer_id}_geom")]
                renames += [(building, published)
                            for _, building, published in _field_indexes(new_name, layer_id, full["indexes"])]
                for old, new in renames:
                    conn.execute(f"ALTER INDEX {ident(schema)}.{ident(old)} RENAME TO {ident(new)}", ())
                conn.execute(
                    f"INSERT INTO {metadata_table(schema)} AS m (layer_id, version, format_version, feature_count, "
                    "geometry_count, published_at, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (layer_id) DO UPDATE SET version = EXCLUDED.version, "
                    "format_version = EXCLUDED.format_version, feature_count = EXCLUDED.feature_count, "
                    "geometry_count = EXCLUDED.geometry_count, published_at = EXCLUDED.published_at, "
                    "metadata = EXCLUDED.metadata",
                    [layer_id, version, STORE_FORMAT_VERSION, full["counts"]["published"], full["geometry_count"],
                     full["published_at"], orjson.dumps(full, option=orjson.OPT_NON_STR_KEYS).decode()],
                )
            return
        except psycopg.errors.LockNotAvailable:
            if attempt == SWAP_ATTEMPTS:
                raise PublicationError(
                    f"couche « {layer_id} » : la version publiée est restée occupée par des lectures "
                    f"({SWAP_ATTEMPTS} × {SWAP_LOCK_TIMEOUT}) ; publication abandonnée, l'ancienne version est conservée"
                ) from None


def publish(
    connections: Connections,
    schema: str,
    layer_id: str,
    frame: gpd.GeoDataFrame,
    metadata: Mapping[str, Any],
    field_types: Mapping[str, str],
    *,
    fail_after_write: Callable[[], None] | None = None,
    label: str = "",
    indexes: Sequence[str] = (),
) -> dict[str, Any]:
    where = label or f"{schema}.{layer_id}"
    try:
        check_layer_id(layer_id)
    except StoreError as exc:
        raise PublicationError(exc.message) from None
    conn: psycopg.Connection | None = None
    try:
        prepared, types = prepare_frame(layer_id, frame, field_types)
        indexed = check_indexes(layer_id, types, indexes)
        full = build_metadata(layer_id, prepared, metadata, types, indexed)
        version = secrets.token_hex(6)
        # "publication": this version's token, new at each publication (the GeoPackage
        # store's equivalent is the file identity): what HTTP validators can key on.
        full["store"] = {"format": "PostGIS", "version": STORE_FORMAT_VERSION, "publication": version}
        # Metadata that cannot be serialised fails here, before anything is written.
        orjson.dumps(full, option=orjson.OPT_NON_STR_KEYS)
        data, sql_types = arrow_table(prepared, types)
        data = data.take(pa.array(spatial_order(prepared.geometry)))
        new_name = f"{layer_id[:40]}__new_{version}"
        conn = connections.connect()
        ensure_base(conn, schema)
        new_table = f"{ident(schema)}.{ident(new_name)}"
        with conn.transaction(), conn.cursor() as cursor:
            columns = ", ".join(f"{ident(n)} {t}" for n, t in sql_types.items())
            conn.execute(f"CREATE TABLE {new_table} ({columns})", ())
            conn.execute(f"COMMENT ON TABLE {new_table} IS {_literal(f'geocommune : couche {layer_id}, version {version}')}", ())
            _copy_rows(cursor, new_table, data)
            _create_indexes(conn, layer_id, new_table, new_name, indexed)
            if fail_after_write is not None:
                fail_after_write()
            _swap(conn, schema, layer_id, new_name, full, version)
        return full
    except PublicationError as exc:
        if exc.file is None:
            exc.file = where
        raise
    except StoreUnavailableError as exc:
        raise PublicationError(
            f"publication de la couche « {layer_id} » impossible, la version publiée est conservée : {exc.message}",
            file=where,
        ) from exc
    except Exception as exc:
        if isinstance(exc, psycopg.Error) and is_connection_lost(exc, conn):
            detail = unavailable(exc).message
        else:
            detail = f"{type(exc).__name__}: {str(exc).strip()}"
        raise PublicationError(
            f"publication de la couche « {layer_id} » impossible, la version publiée est conservée : {detail}",
            file=where,
        ) from exc
    finally:
        if conn is not None:
            conn.close()
