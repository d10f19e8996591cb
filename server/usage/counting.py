"""What one request counts as: (layer, kind, format), or nothing.

Counted — ``GET`` only, answered 2xx or 304:

* the OGC API resources of a collection, by the HTTP layer's route kinds
  (``server/http/routing.py``): ``collection``, ``items``, ``item``, ``queryables``, ``schema``;
* our resources on a collection: ``nearest`` and ``aggregate`` (the map's), ``sortables``;
* the downloads (``/collections/<id>/download.<fmt>``, endpoint ``geocommune_downloads.download``):
  kind ``download``, format ``fmt``.

Why 304 counts: a client that revalidates its copy (``If-None-Match``) is using the layer
again — it just did not need the bytes. Counting only 200s would make a well-behaved
cache look like a drop in use. Errors (4xx, 5xx) are not uses.

Why not ``HEAD``: it asks whether a resource exists, it reads nothing.

The format is the representation served, in ``f=`` words: from the response's media type
(``application/geo+json`` and ``application/schema+json`` are ``json``: that is what ``f=json``
asks for); a 304 has no body, so from ``f=``, else from ``Accept`` as pygeoapi negotiates.
Every value stored comes from a closed list (served collections, kinds and formats below),
never from the request's text: a client cannot write into the counters.
"""

from __future__ import annotations

from typing import Callable, Collection

from flask import Request, Response, g
from werkzeug.datastructures import Headers

from server.http.routing import Route, classify

DOWNLOAD_ENDPOINT = "geocommune_downloads.download"
DOWNLOAD_FORMATS = frozenset({"geojson", "csv", "gpkg", "fgb"})

# The HTTP layer's route kinds that address one collection and are counted.
OGC_COUNTED = frozenset({"collection", "items", "item", "queryables", "schema"})
# Our own blueprints' endpoints on a collection → kind.
ENDPOINT_KINDS = {
    "geocommune_map.nearest": "nearest",
    "geocommune_map.tile_counts": "aggregate",
    "geocommune_sortables.sortables": "sortables",
}
KINDS = (*sorted(OGC_COUNTED), *ENDPOINT_KINDS.values(), "download")

MIME_FORMATS = {
    "text/html": "html",
    "application/ld+json": "jsonld",
    "application/json": "json",
    "application/geo+json": "json",
    "application/schema+json": "json",
    "text/csv": "csv",
    "application/geopackage+sqlite3": "gpkg",
    "application/flatgeobuf": "fgb",
}
API_FORMATS = frozenset({"json", "html", "jsonld", "csv"})
F_ALIASES = {"geojson": "json"}  # the map's endpoints accept f=geojson for their GeoJSON
OTHER = "other"


def _counted_statuses(status: int) -> bool:
    return 200 <= status < 300 or status == 304


def _negotiated(request: Request) -> str:
    """The format pygeoapi picks without ``f``: the first known type of ``Accept`` by
    quality; JSON when there is none (pygeoapi's default)."""
    for mimetype, _quality in request.accept_mimetypes:
        found = MIME_FORMATS.get(mimetype)
        if found is not None:
            return found
    return "json"


def _mimetype(response: Response) -> str:
    # pygeoapi's flask_app replaces ``response.headers`` with a plain dict (case-sensitive
    # keys, so ``response.mimetype`` misses it); the HTTP layer turns it back into Headers,
    # but after this hook has run.
    headers = response.headers
    if isinstance(headers, Headers):
        value = headers.get("Content-Type", "")
    else:
        value = next((str(v) for k, v in dict(headers).items() if str(k).lower() == "content-type"), "")
    return value.split(";", 1)[0].strip().lower()


def response_format(request: Request, response: Response) -> str:
    if response.status_code != 304:
        found = MIME_FORMATS.get(_mimetype(response))
        if found is not None:
            return found
    requested = (request.args.get("f") or "").strip().lower()
    if requested:
        requested = F_ALIASES.get(requested, requested)
        return requested if requested in API_FORMATS else OTHER
    if response.status_code == 304:
        return _negotiated(request)
    return OTHER


def classify_use(
    request: Request, response: Response, served: Callable[[], Collection[str]]
) -> tuple[str, str, str] | None:
    """``(layer, kind, format)`` of a counted request, ``None`` for anything else.

    ``served`` gives the served collection ids (called only for a candidate request)."""
    if request.method != "GET" or not _counted_statuses(response.status_code):
        return None
    endpoint = request.endpoint or ""
    args = request.view_args or {}
    if endpoint == DOWNLOAD_ENDPOINT:
        kind = "download"
        fmt = str(args.get("fmt", ""))
        fmt = fmt if fmt in DOWNLOAD_FORMATS else OTHER
        layer = args.get("collection_id")
    else:
        kind = ENDPOINT_KINDS.get(endpoint)
        if kind is not None:
            layer = args.get("collection_id")
        else:
            route: Route = g.get("geocommune_route") or classify(request)
            if route.kind not in OGC_COUNTED:
                return None
            kind, layer = route.kind, route.collection
        fmt = response_format(request, response)
    if not layer or layer not in served():
        return None
    return str(layer), kind, fmt
