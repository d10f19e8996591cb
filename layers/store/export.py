"""A whole published layer, read in batches of Arrow columns, in bounded memory, from either store.

What whole-layer downloads are built from (``server/downloads/``): a layer of a million
features must never be held in memory at once, and every batch must come from the same
publication — a download that mixed two versions would be wrong without anyone noticing.

* GeoPackage: GDAL's Arrow stream over the published file (``pyogrio.open_arrow``), the
  fastest column-wise read there is (≈ 3× plain ``sqlite3`` rows). The file is opened once;
  a re-publication replaces it (``os.replace``), so the open file keeps being the version
  the export started on. Which version that is comes from the file's identity (inode, mtime,
  size: the GeoPackage metadata's publication token, ``gpkg_reader.py``), checked unchanged
  across the open.
* PostGIS: keyset pages on the primary key (``fid > last ORDER BY fid LIMIT n``), one short
  autocommit statement each, every one returning the layer version it read (see
  ``postgis.py`` for why reads never span a transaction: a long-lived snapshot would also
  hold the lock a publication's swap waits for, for as long as a slow client downloads).
  A batch from another version raises ``PublicationChanged``: the download stops rather
  than mixing versions.

Every batch has the same columns whichever the store: ``id`` then the published fields in
their published order, typed ``int64`` (integer), ``float64`` (number), ``bool`` (boolean)
and text for everything else, with the text the API serves (dates and date-times in ISO
8601, lists and objects as JSON text); the geometries as WKB (``None`` where missing).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from layers.errors import StoreError

from .geopackage import GeoPackageStore
from .gpkg_reader import file_token

DEFAULT_BATCH_SIZE = 10_000
_OPEN_ATTEMPTS = 3

# Field type → Arrow type of the batch columns; any other type travels as text.
ARROW_TYPES: dict[str, pa.DataType] = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}


def arrow_type(kind: str) -> pa.DataType:
    return ARROW_TYPES.get(kind, pa.string())


class PublicationChanged(StoreError):
    """The layer was re-published while it was being exported: start again."""


@dataclass
class Batch:
    properties: pa.Table  # id + fields, typed as ``arrow_type``
    wkb: pa.Array  # binary WKB, null where a feature has no geometry

    @property
    def num_rows(self) -> int:
        return self.properties.num_rows


@dataclass
class LayerExport:
    """One publication of a layer, read once as batches (``for batch in export``); ``close``
    releases the open file or stops the paging (also on a client that went away)."""

    layer_id: str
    version: str  # the publication read: ``token-…`` (GeoPackage: the file identity; PostGIS: its token)
    metadata: dict[str, Any]  # that publication's metadata (title, field_types, counts…)
    _batches: Iterator[Batch]
    _close: Callable[[], None] = field(default=lambda: None)

    @property
    def field_types(self) -> dict[str, str]:
        types = dict(self.metadata.get("field_types") or {})
        return {"id": "string", **{k: v for k, v in types.items() if k != "id"}}

    @property
    def count(self) -> int:
        return int((self.metadata.get("counts") or {}).get("published", 0))

    @property
    def geometry_types(self) -> list[str]:
        return list(self.metadata.get("geometry_types") or [])

    def schema(self) -> pa.Schema:
        return pa.schema([(name, arrow_type(kind)) for name, kind in self.field_types.items()])

    def __iter__(self) -> Iterator[Batch]:
        return self._batches

    def close(self) -> None:
        self._close()

    def __enter__(self) -> "LayerExport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_export(store: Any, layer_id: str, batch_size: int = DEFAULT_BATCH_SIZE) -> LayerExport:
    """The current publication of ``layer_id``, ready to be read in batches of ``batch_size``.

    Raises ``StoreError`` when the layer is not published (or cannot be read),
    ``StoreUnavailableError`` when the database cannot be reached."""
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    if isinstance(store, GeoPackageStore):
        return _open_geopackage(store, layer_id, batch_size)
    postgis = sys.modules.get("layers.store.postgis")  # loaded if a PostGIS store exists at all
    if postgis is not None and isinstance(store, postgis.PostGISStore):
        from .pg_export import open_postgis_export

        return open_postgis_export(store, layer_id, batch_size)
    raise StoreError(f"export impossible depuis le stockage {store!r}")


# -- GeoPackage ---------------------------------------------------------------------------


def typed_columns(table: pa.Table | pa.RecordBatch, field_types: dict[str, str]) -> pa.Table:
    """The batch columns in published order with their export types (a GDAL date column
    becomes ISO text, as the API serves it)."""
    arrays = []
    for name, kind in field_types.items():
        column = table.column(name)
        target = arrow_type(kind)
        arrays.append(column if column.type == target else pc.cast(column, target))
    return pa.table(arrays, names=list(field_types))


def _open_geopackage(store: GeoPackageStore, layer_id: str, batch_size: int) -> LayerExport:
    import pyogrio  # GDAL: only where an export is made

    path = store.path(layer_id)
    for _ in range(_OPEN_ATTEMPTS):
        before = file_token(path)
        metadata = store.metadata(layer_id)
        if before is None or metadata is None:
            raise StoreError(f"la couche « {layer_id} » n'est pas publiée", file=path)
        field_types = {"id": "string", **{k: v for k, v in (metadata.get("field_types") or {}).items() if k != "id"}}
        context = pyogrio.open_arrow(
            path, layer=layer_id, columns=list(field_types), batch_size=batch_size, use_pyarrow=True,
            # GDAL's own ISO text for date-times: the text the API serves (…T10:00:00Z).
            datetime_as_string=True,
        )
        info, reader = context.__enter__()
        if file_token(path) == before:  # the file opened is the one the metadata came from
            break
        context.__exit__(None, None, None)  # replaced in between: open the new one
    else:
        raise PublicationChanged(f"la couche « {layer_id} » change sans cesse : export abandonné, réessayer")
    geometry = info.get("geometry_name") or "geom"

    def batches() -> Iterator[Batch]:
        for record_batch in reader:
            if record_batch.num_rows == 0:
                continue
            wkb = record_batch.column(geometry) if geometry in record_batch.schema.names else None
            if wkb is None:
                wkb = pa.nulls(record_batch.num_rows, pa.binary())
            elif not pa.types.is_binary(wkb.type):  # geoarrow.wkb extension: its binary storage
                wkb = wkb.storage if hasattr(wkb, "storage") else pc.cast(wkb, pa.binary())
            yield Batch(typed_columns(record_batch, field_types), wkb)

    closed = False

    def close() -> None:
        nonlocal closed
        if not closed:
            closed = True
            context.__exit__(None, None, None)

    # Named as the metadata's publication token names it (gpkg_reader: the file identity), so
    # that the download's key is the one computed before the export (``publication_identity``).
    return LayerExport(layer_id, f"token-{before}", metadata, batches(), close)
