"""GeoPackage and FlatGeobuf downloads: built once per publication, then served as files.

Neither format can be sent while it is written (a GeoPackage is a SQLite database, a
FlatGeobuf header and index precede the features), so the file is built under
``<data dir>/.runtime/downloads/`` the first time it is asked for, and served from there
(``send_file``: conditional and range requests) until the layer is re-published.

* Bounded memory: the export's Arrow batches go to GDAL as one Arrow stream
  (``pyogrio.write_arrow`` on a ``RecordBatchReader``), never as a whole layer.
* One build at a time: the first request takes an exclusive ``flock`` per layer and
  format; a concurrent one (another server worker, another thread) waits for it, then
  finds the file built. The file is written under a temporary name and renamed (atomic):
  a file present under its final name is complete.
* The name carries the publication and what goes into the file (``<layer>.<key>.<ext>``,
  the key being the download's ETag): a new publication, a new licence or a new export
  format version give a new name; the older files of that layer and format are removed
  once the new one is in place (a worker still sending one keeps its open file).
* Licence and attribution inside: GeoPackage layer description and ``gpkg_metadata``
  items, FlatGeobuf title, description and header metadata (both read back by GDAL).
* FlatGeobuf has a spatial index (packed Hilbert R-tree), so its features come in the
  index's order, not by id; without one when some feature has no geometry (GDAL's index
  cannot hold it): then in id order, like the other formats.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from layers.store.export import LayerExport

from .credits import Credits
from .formats import Format

DRIVERS = {"gpkg": "GPKG", "fgb": "FlatGeobuf"}
GEOMETRY_COLUMN = "geom"  # a name no published field may take (reserved by the store)
# Types the files keep for these fields (the export carries them as ISO text).
_FILE_TYPES = {"date": pa.date32(), "datetime": pa.timestamp("ms", tz="UTC")}
_SINGLE_TYPES = {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"}


def file_name(layer_id: str, key: str, fmt: Format) -> str:
    return f"{layer_id}.{key}.{fmt.extension}"


@contextmanager
def _locked(folder: Path, layer_id: str, fmt: Format) -> Iterator[None]:
    with open(folder / f".{layer_id}.{fmt.extension}.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released on close, even if the worker dies
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _file_schema(export: LayerExport) -> pa.Schema:
    fields = [pa.field(name, _FILE_TYPES.get(kind, export.schema().field(name).type))
              for name, kind in export.field_types.items()]
    return pa.schema([*fields, pa.field(GEOMETRY_COLUMN, pa.binary())])


def _record_batches(export: LayerExport, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    for batch in export:
        arrays = []
        for field in schema:
            if field.name == GEOMETRY_COLUMN:
                arrays.append(batch.wkb)
                continue
            column = batch.properties.column(field.name).combine_chunks()
            arrays.append(column if column.type == field.type else pc.cast(column, field.type))
        yield pa.record_batch(arrays, schema=schema)


def _geometry_type(export: LayerExport) -> str:
    types = export.geometry_types
    return types[0] if len(types) == 1 and types[0] in _SINGLE_TYPES else "Unknown"


def _write(export: LayerExport, fmt: Format, credits: Credits, target: Path) -> None:
    import pyogrio  # GDAL: only where a file is built

    metadata = export.metadata
    has_missing_geometry = int(metadata.get("geometry_count", export.count)) < export.count
    if fmt.key == "gpkg":
        options = {"IDENTIFIER": credits.title, "DESCRIPTION": credits.sentence, "SPATIAL_INDEX": "YES"}
    else:
        # GDAL's FlatGeobuf index cannot hold a feature without geometry: no index then.
        options = {"TITLE": credits.title, "DESCRIPTION": credits.sentence,
                   "SPATIAL_INDEX": "NO" if has_missing_geometry else "YES"}
    schema = _file_schema(export)
    reader = pa.RecordBatchReader.from_batches(schema, _record_batches(export, schema))
    pyogrio.write_arrow(
        reader, target, layer=export.layer_id, driver=DRIVERS[fmt.key], geometry_name=GEOMETRY_COLUMN,
        geometry_type=_geometry_type(export), crs="EPSG:4326", layer_options=options,
        layer_metadata=credits.as_dict(),
    )


def _remove_leftovers(folder: Path, layer_id: str, fmt: Format) -> None:
    """Temporary files of a build that never finished (its worker was killed); under the
    lock, no build of this layer and format is running."""
    pattern = re.compile(rf"\.tmp-[0-9a-f]{{12}}-{re.escape(layer_id)}\.{fmt.extension}(-journal|-wal|-shm)?")
    for path in folder.glob(f".tmp-*-{layer_id}.{fmt.extension}*"):
        if pattern.fullmatch(path.name):
            path.unlink(missing_ok=True)


def _discard(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def cached_file(folder: Path, layer_id: str, key: str, fmt: Format) -> Path | None:
    path = folder / file_name(layer_id, key, fmt)
    return path if path.is_file() else None


def build_file(
    folder: Path,
    layer_id: str,
    key: str,
    fmt: Format,
    credits: Credits,
    open_export: Callable[[], LayerExport],
    key_of: Callable[[LayerExport], str],
) -> tuple[Path, str]:
    """The file of the publication ``key`` names, built now or by the concurrent request
    that held the lock; returns (file, key). The export is opened under the lock, only
    when there is a file to build: if the layer was re-published since ``key`` was
    computed, the file is built (and named) for the publication actually read."""
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder, layer_id, fmt):
        found = cached_file(folder, layer_id, key, fmt)
        if found is not None:  # built by the request we waited for
            return found, key
        _remove_leftovers(folder, layer_id, fmt)
        with open_export() as export:
            key = key_of(export)
            final = folder / file_name(layer_id, key, fmt)
            if final.is_file():
                return final, key
            temporary = folder / f".tmp-{secrets.token_hex(6)}-{layer_id}.{fmt.extension}"
            try:
                _write(export, fmt, credits, temporary)
                os.replace(temporary, final)
            except BaseException:
                _discard(temporary)
                raise
        for old in folder.glob(f"{layer_id}.*.{fmt.extension}"):
            if old != final and old.name.count(".") == 2:  # <layer>.<key>.<ext>: ours, not another layer's
                old.unlink(missing_ok=True)
    return final, key
