"""``GET /collections/{id}/download.{geojson,csv,gpkg,fgb}``: a whole published layer.

The HTTP layer leaves this endpoint alone (``routing``: kind "other"), so the view checks
its own parameters (``formats.check_parameters``) and computes its own validators:

* a **strong** ETag: the same publication, format, options and credits always give the
  same bytes (nothing in a body depends on the time of the request), so the ETag is the
  hash of those — also the cached file's name for GeoPackage / FlatGeobuf; 304 on
  ``If-None-Match``; ``Last-Modified`` is the publication time;
* ``Content-Disposition: attachment; filename="<id>.<ext>"``,
  ``Link: <licence>; rel="license"``, ``Cache-Control: public, max-age=…``.

GeoJSON and CSV are streamed (``ExportStream``): chunked, never buffered (the gzip step
of the HTTP layer leaves streamed responses alone), the store read in batches; HEAD
answers the headers without reading the layer. GeoPackage and FlatGeobuf are files
built once per publication (``files.py``) and served with conditional / range requests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path
from typing import Callable, Iterator

from flask import Blueprint, Response, current_app, request, send_file
from werkzeug.http import is_resource_modified, quote_etag

from layers.catalogue import get_catalogue
from layers.errors import UnknownLayerError
from layers.settings import Settings
from layers.store.export import DEFAULT_BATCH_SIZE, LayerExport, open_export

from ..http.caching import publication_identity
from ..http.errors import UnknownResource
from .credits import Credits
from .csv_stream import csv_chunks
from .files import build_file, cached_file
from .formats import EXTENSION, FORMATS, Format
from .geojson_stream import geojson_chunks
from .options import CsvOptions, check_parameters, is_point_layer

LOGGER = logging.getLogger("geocommune.downloads")

blueprint = Blueprint(EXTENSION, __name__)

# Bump when the bytes of a download change for the same publication (columns, escaping,
# metadata…): every ETag and cached file name changes with it.
EXPORT_FORMAT_VERSION = "1"
DOWNLOADS_DIR = Path(".runtime") / "downloads"  # under the data folder, next to the generated configuration


class ExportStream:
    """A streamed body: the chunks of an open export, closed when the response is (also
    when the client goes away, or for HEAD without a byte read)."""

    def __init__(self, export: LayerExport, chunks: Iterator[bytes]) -> None:
        self.export = export
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.chunks
        except Exception as exc:  # noqa: BLE001 — logged, then the connection is cut (no silent truncation)
            LOGGER.warning("téléchargement de « %s » interrompu : %s", self.export.layer_id, exc)
            raise

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()
        self.export.close()


def download_key(version: str, fmt: Format, options: CsvOptions | None, credits: Credits) -> str:
    digest = hashlib.sha256()
    for part in (EXPORT_FORMAT_VERSION, fmt.key, repr(options), version, credits.fingerprint()):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


def _published_at(metadata: dict) -> dt.datetime | None:
    text = str(metadata.get("published_at") or "")
    try:
        when = dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return when.replace(tzinfo=dt.UTC) if when is not None and when.tzinfo is None else when


def _finish(response: Response, layer_id: str, fmt: Format, key: str, credits: Credits,
            last_modified: dt.datetime | None, max_age: int) -> Response:
    response.headers["ETag"] = quote_etag(key)
    if last_modified is not None:
        response.last_modified = last_modified
    response.headers["Cache-Control"] = f"public, max-age={max(0, int(max_age))}"
    response.headers["Content-Disposition"] = f'attachment; filename="{layer_id}.{fmt.extension}"'
    response.headers["Link"] = f'<{credits.licence_url}>; rel="license"'
    return response


def _chunks(fmt: Format, export: LayerExport, options: CsvOptions | None, credits: Credits) -> Iterator[bytes]:
    if fmt.key == "csv":
        assert options is not None
        return csv_chunks(export, export.field_types, options)
    return geojson_chunks(export, export.field_types, credits, export.count, export.metadata.get("published_at"))


@blueprint.get("/collections/<collection_id>/download.<fmt>")
def download(collection_id: str, fmt: str) -> Response:
    from ..provider import shared_store  # the worker's one store (GeoPackage or PostGIS)

    settings: Settings = current_app.extensions[EXTENSION]
    chosen = FORMATS.get(fmt)
    if chosen is None:
        raise UnknownResource(f"format de téléchargement inconnu « {fmt} » ; formats : {', '.join(FORMATS)}")
    try:
        spec = get_catalogue(settings.catalogue).layer(collection_id)
    except UnknownLayerError:
        raise UnknownResource(f"collection « {collection_id} » inconnue") from None
    store = shared_store(settings)
    metadata = store.metadata(collection_id)
    if metadata is None:
        raise UnknownResource(f"la collection « {collection_id} » n'est pas publiée")
    points = is_point_layer(metadata.get("geometry_types") or [], spec.geometry)
    options = check_parameters(chosen, request.args, points)
    credits = Credits.of(spec)
    last_modified = _published_at(metadata)
    key = download_key(publication_identity(metadata), chosen, options, credits)

    def finish(response: Response, final_key: str) -> Response:
        return _finish(response, collection_id, chosen, final_key, credits, last_modified, settings.cache_max_age)

    if not is_resource_modified(request.environ, etag=key, last_modified=last_modified):
        return finish(Response(status=304), key)
    if not chosen.streamed:
        return _send_built_file(settings, store, collection_id, key, chosen, credits, last_modified, finish)
    if request.method == "HEAD":
        return finish(Response(status=200, content_type=chosen.media_type), key)
    export = open_export(store, collection_id, DEFAULT_BATCH_SIZE)
    try:
        final_key = download_key(export.version, chosen, options, credits)
        body = ExportStream(export, _chunks(chosen, export, options, credits))
    except BaseException:
        export.close()
        raise
    return finish(Response(body, content_type=chosen.media_type), final_key)


def _send_built_file(settings: Settings, store, layer_id: str, key: str, fmt: Format, credits: Credits,
                     last_modified: dt.datetime | None, finish: Callable[[Response, str], Response]) -> Response:
    folder = Path(settings.data_dir).resolve() / DOWNLOADS_DIR
    path = cached_file(folder, layer_id, key, fmt)
    if path is None:
        path, key = build_file(
            folder, layer_id, key, fmt, credits,
            open_export=lambda: open_export(store, layer_id, DEFAULT_BATCH_SIZE),
            key_of=lambda export: download_key(export.version, fmt, None, credits),
        )
    response = send_file(path, mimetype=fmt.media_type, conditional=True, etag=key, last_modified=last_modified,
                         max_age=settings.cache_max_age)
    return finish(response, key)
