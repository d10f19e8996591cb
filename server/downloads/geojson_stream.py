"""A layer as one GeoJSON FeatureCollection, batch by batch, in bounded memory.

The collection's own members come first — ``name``, ``title``, ``license`` (SPDX
identifier), ``attribution``, ``links`` (the licence's name and URL), ``numberMatched``,
``published`` (foreign members, RFC 7946 §6.1) — so that a reader streaming the file
knows the licence before the first feature. Nothing in
the body depends on the time of the request: the same publication gives the same bytes
(the download's ETag is strong).

Each batch is written column-wise (``arrow_json``): GeoJSON geometries by shapely in one
call, property texts by Arrow compute, one element-wise join per batch. Features are in
the API's form and order (``type``, ``id``, ``geometry``, ``properties``), one per line.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from layers.store.export import Batch

from .arrow_json import concatenated, json_strings, json_values
from .credits import Credits


def _header(credits: Credits, count: int, published: str | None) -> bytes:
    members: dict[str, Any] = {
        "type": "FeatureCollection",
        "name": credits.layer_id,
        "title": credits.title,
        # As on the collection's JSON: the SPDX identifier, name and URL in a ``license`` link.
        "license": credits.licence_spdx or credits.licence_name,
        "attribution": credits.attribution,
        "links": [{"rel": "license", "type": "text/html", "title": credits.licence_name,
                   "href": credits.licence_url}],
        "numberMatched": count,
    }
    if published:
        members["published"] = published
    text = orjson.dumps(members)
    return text[:-1] + b',"features":[\n'


def _feature_texts(batch: Batch, field_types: dict[str, str]) -> pa.Array:
    geometries = shapely.from_wkb(batch.wkb.to_numpy(zero_copy_only=False))
    geojson = pc.fill_null(pa.array(shapely.to_geojson(geometries), type=pa.string()), "null")
    # Each feature text starts with the comma that separates it from the one before.
    parts: list[Any] = [',{"type":"Feature","id":', json_strings(batch.properties.column("id").combine_chunks()),
                        ',"geometry":', geojson, ',"properties":{']
    first = True
    for name, kind in field_types.items():
        if name == "id":
            continue
        key = orjson.dumps(name).decode() + ":"
        parts += [key if first else "," + key, json_values(batch.properties.column(name), kind)]
        first = False
    parts.append("}}\n")
    return pc.binary_join_element_wise(*parts, "")


def geojson_chunks(
    batches: Iterable[Batch], field_types: dict[str, str], credits: Credits, count: int, published: str | None
) -> Iterator[bytes]:
    yield _header(credits, count, published)
    first = True
    for batch in batches:
        body = concatenated(_feature_texts(batch, field_types))
        yield body[1:] if first else body  # no comma before the very first feature
        first = False
    yield b"]}\n"
