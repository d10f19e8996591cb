"""A layer as CSV, batch by batch: Arrow's CSV writer on each batch, never a loop per row.

Columns: ``id``, the published fields in their order (lists and objects as JSON text,
dates in ISO 8601, booleans ``true``/``false``), then the geometry: ``longitude`` and
``latitude`` (points) or ``wkt`` (full precision, like the GeoJSON). A field already named
like a geometry column gives the geometry column a ``_geom`` suffix. See ``options.py``
for the ``;`` profile (decimal comma, byte-order mark).
"""

from __future__ import annotations

import io
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import shapely

from layers.store.export import Batch

from .options import CsvOptions

BOM = "\ufeff".encode("utf-8")


def geometry_column_names(options: CsvOptions, field_names: Iterable[str]) -> list[str]:
    wanted = ["longitude", "latitude"] if options.geometry == "latlon" else ["wkt"]
    taken = set(field_names)
    return [name if name not in taken else f"{name}_geom" for name in wanted]


def _decimal_comma(values: pa.Array) -> pa.Array:
    """Floats as text with a decimal comma (the ``;`` profile); null stays null (empty cell)."""
    text = pc.cast(values, pa.string())
    return pc.replace_substring(text, ".", ",")


def _geometry_columns(batch: Batch, options: CsvOptions) -> list[pa.Array]:
    geometries = shapely.from_wkb(batch.wkb.to_numpy(zero_copy_only=False))
    missing = shapely.is_missing(geometries)
    if options.geometry == "latlon":
        columns = []
        for values in (shapely.get_x(geometries), shapely.get_y(geometries)):  # NaN where missing
            array = pa.array(values, type=pa.float64(), mask=missing | np.isnan(values))
            columns.append(_decimal_comma(array) if options.french else array)
        return columns
    wkt = shapely.to_wkt(geometries, rounding_precision=-1, trim=True)  # None where missing
    return [pa.array(wkt, type=pa.string())]


def _cells(batch: Batch, field_types: dict[str, str], options: CsvOptions) -> pa.Table:
    arrays, names = [], []
    for name, kind in field_types.items():
        column = batch.properties.column(name)
        if options.french and pa.types.is_floating(column.type):
            column = _decimal_comma(column.combine_chunks())
        arrays.append(column)
        names.append(name)
    arrays += _geometry_columns(batch, options)
    names += geometry_column_names(options, field_types)
    return pa.table(arrays, names=names)


def csv_chunks(batches: Iterable[Batch], field_types: dict[str, str], options: CsvOptions) -> Iterator[bytes]:
    """The CSV file as a sequence of chunks (one per batch); the header comes first, even
    for a layer without features."""
    first = True
    write_options = dict(delimiter=options.sep, quoting_style="needed")
    for batch in batches:
        sink = io.BytesIO()
        if first and options.french:
            sink.write(BOM)
        pa_csv.write_csv(_cells(batch, field_types, options), sink,
                         pa_csv.WriteOptions(include_header=first, **write_options))
        first = False
        yield sink.getvalue()
    if first:  # no batch at all: the header alone
        names = list(field_types) + geometry_column_names(options, field_types)
        empty = pa.table({name: pa.array([], type=pa.string()) for name in names})
        sink = io.BytesIO()
        if options.french:
            sink.write(BOM)
        pa_csv.write_csv(empty, sink, pa_csv.WriteOptions(include_header=True, **write_options))
        yield sink.getvalue()
