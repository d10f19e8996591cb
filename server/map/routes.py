"""The map's HTTP resources, as one Flask blueprint:

- ``GET /carte`` (French) and ``GET /map`` (English): the residents' map, ``?layer=<id>``
  centres it on one layer;
- ``GET /collections/<id>/nearest?lon=&lat=[&k=1][&filter=…]``: the ``k`` features
  nearest to a position (geodesic distance, metres), computed by the store;
- ``GET /collections/<id>/aggregate?bbox=&level=[&filter=…]``: feature counts per
  Web-Mercator tile, what the map shows at low zoom instead of thousands of markers.

Why a nearest resource next to the collection rather than an OGC API Processes process:
it is a read of one collection, cacheable and answered at once (GET, no job), with the
same ``filter`` (CQL2) as ``/items``; a Processes execution (POST, job semantics) would
add a round trip and a second way of writing the filter for no gain to the map.

Bad input → 400 JSON naming the parameter (``server.http.errors``: one table for the
whole server). ``register(app, settings)`` attaches all this to the Flask app.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, current_app, request

from layers.catalogue import Catalogue, get_catalogue
from layers.settings import Settings
from layers.store import Store, Where
from server.cql import UnsupportedFilter, to_where
from server.cql_parse import FilterSyntaxError, parse
from server.http.errors import InvalidParameter, UnknownResource, error_response
from server.provider import shared_store

from .aggregate import MAX_LEVEL, MAX_TILES, CountCache, aggregate, tile_count
from .page import PublishedLayer, build_page

EXTENSION = "geocommune_map"
GEOJSON = "application/geo+json"
MAX_K = 100
BASEMAP_CHOICES = ("osm", "ign", "none")

blueprint = Blueprint(EXTENSION, __name__)


class MapInputError(ValueError):
    """Bad input on one of the map's resources: (status, code, parameter, description)."""

    def __init__(self, status: int, code: str, parameter: str | None, description: str) -> None:
        super().__init__(description)
        self.status, self.code, self.parameter, self.description = status, code, parameter, description


def _bad(parameter: str, description: str) -> MapInputError:
    return MapInputError(400, "InvalidParameterValue", parameter, description)


@dataclass
class MapState:
    settings: Settings
    base: str
    own_store: Store | None = None  # None: the process's shared store (the provider's)
    counts: CountCache = field(default_factory=CountCache)
    pages: dict[tuple[Any, ...], tuple[str, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def store(self) -> Store:
        # Looked up at each use: the main server process closes its stores before forking, and
        # each worker opens its own on first use (server/provider.py).
        return self.own_store if self.own_store is not None else shared_store(self.settings)

    @property
    def catalogue(self) -> Catalogue:
        return get_catalogue(self.settings.catalogue)  # cached by file modification time

    def published(self) -> list[PublishedLayer]:
        ids = set(self.store.published())
        layers = []
        for spec in self.catalogue.layers:
            if spec.id in ids:
                metadata = self.store.metadata(spec.id) or {}
                layers.append(PublishedLayer(spec.id, dict(spec.title), spec.licence.name, metadata))
        return layers


def _state() -> MapState:
    return current_app.extensions[EXTENSION]


def _base_path(settings: Settings) -> str:
    from urllib.parse import urlsplit

    return urlsplit(settings.url).path.rstrip("/") if settings.url else ""


# -- parameters ----------------------------------------------------------------------------


def _check_known(allowed: set[str]) -> None:
    for name in request.args:
        if name not in allowed:
            raise _bad(name, f"paramètre inconnu « {name} » ; paramètres acceptés : {', '.join(sorted(allowed))}")
        if len(request.args.getlist(name)) > 1:
            raise _bad(name, f"paramètre « {name} » répété")


def _number(name: str, low: float, high: float, *, required: bool = True, default: float | None = None) -> float:
    text = request.args.get(name)
    if text is None or text.strip() == "":
        if required:
            raise _bad(name, f"paramètre « {name} » obligatoire")
        return default  # type: ignore[return-value]
    try:
        value = float(text)
    except ValueError:
        raise _bad(name, f"« {text} » n'est pas un nombre (paramètre « {name} »)") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise _bad(name, f"« {name} » doit être compris entre {low:g} et {high:g} (reçu {text})")
    return value


def _integer(name: str, low: int, high: int, *, required: bool, default: int) -> int:
    text = request.args.get(name)
    if text is None or text.strip() == "":
        if required:
            raise _bad(name, f"paramètre « {name} » obligatoire")
        return default
    if not text.strip().lstrip("-").isdigit():
        raise _bad(name, f"« {text} » n'est pas un entier (paramètre « {name} »)")
    value = int(text)
    if not low <= value <= high:
        raise _bad(name, f"« {name} » doit être compris entre {low} et {high} (reçu {value})")
    return value


def _bbox() -> tuple[float, float, float, float]:
    text = request.args.get("bbox")
    if not text:
        raise _bad("bbox", "paramètre « bbox » obligatoire : ouest,sud,est,nord (degrés WGS84)")
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise _bad("bbox", f"bbox : 4 nombres attendus (ouest,sud,est,nord), reçu « {text} »") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise _bad("bbox", f"bbox : 4 nombres attendus (ouest,sud,est,nord), reçu « {text} »")
    west, south, east, north = values
    west, east = max(-180.0, west), min(180.0, east)
    south, north = max(-90.0, south), min(90.0, north)
    if west > east or south > north:
        raise _bad("bbox", "bbox : l'ouest doit être inférieur à l'est et le sud au nord")
    return west, south, east, north


def _filter(layer_id: str, store: Store) -> tuple[Where | None, str]:
    text = request.args.get("filter")
    if text is None or not text.strip():
        return None, ""
    language = request.args.get("filter-lang")
    node = parse(text, language)
    if isinstance(node, FilterSyntaxError):
        parameter = "filter-lang" if node.message.startswith("filter-lang") else "filter"
        raise _bad(parameter, node.message)
    fields = dict((store.metadata(layer_id) or {}).get("field_types") or {})
    try:
        where = to_where(node, fields)
    except UnsupportedFilter as exc:
        raise _bad("filter", str(exc)) from None
    return where, f"{language or ''}:{text.strip()}"


def _layer(collection_id: str) -> str:
    state = _state()
    served = [layer.id for layer in state.published()]
    if collection_id not in served:
        raise MapInputError(404, "NotFound", None,
                            f"collection « {collection_id} » inconnue ; collections servies : {', '.join(served) or 'aucune'}")
    return collection_id


def _json(body: Any, *, status: int = 200, content_type: str = GEOJSON, cache: str = "no-cache") -> Response:
    response = Response(orjson.dumps(body), status=status, content_type=content_type)
    response.headers["Cache-Control"] = cache
    return response


@blueprint.errorhandler(MapInputError)
def _input_error(error: MapInputError) -> Response:
    # Through the server's one error table (server/http/errors.py): the body reads like
    # every other 400 / 404 of the API.
    if error.status == 404:
        return error_response(UnknownResource(error.description))
    return error_response(InvalidParameter(error.parameter or "", error.description))


# -- the page ------------------------------------------------------------------------------


def _page(lang: str) -> Response:
    _check_known({"layer", "lang"})
    state = _state()
    layers = state.published()
    focus = request.args.get("layer") or None
    if focus is not None and focus not in {layer.id for layer in layers}:
        raise _bad("layer", f"couche « {focus} » inconnue ; couches publiées : {', '.join(l.id for l in layers)}")
    basemap = state.settings.basemap if state.settings.basemap in BASEMAP_CHOICES else "osm"
    version = tuple((layer.id, layer.metadata.get("published_at"), layer.metadata.get("geometry_count")) for layer in layers)
    key = (lang, focus, basemap, version)
    with state.lock:
        cached = state.pages.get(key)
    if cached is None:
        html = build_page(lang=lang, base=state.base, basemap=basemap, catalogue=state.catalogue,
                          layers=layers, focus=focus)
        cached = (html, hashlib.sha256(html.encode()).hexdigest()[:20])
        with state.lock:
            if len(state.pages) > 64:
                state.pages.clear()
            state.pages[key] = cached
    html, etag = cached
    response = Response(html, content_type="text/html; charset=utf-8")
    response.headers["Content-Language"] = lang
    response.headers["Cache-Control"] = "no-cache"
    response.set_etag(etag)
    return response.make_conditional(request)


@blueprint.get("/carte")
def page_fr() -> Response:
    return _page("fr")


@blueprint.get("/map")
def page_en() -> Response:
    return _page("en")


# -- nearest and aggregate ------------------------------------------------------------------


@blueprint.get("/collections/<collection_id>/nearest")
def nearest(collection_id: str) -> Response:
    layer_id = _layer(collection_id)
    _check_known({"lon", "lat", "k", "filter", "filter-lang", "f"})
    if request.args.get("f") not in (None, "json", "geojson"):
        raise _bad("f", "f : seul le format json est proposé")
    lon = _number("lon", -180.0, 180.0)
    lat = _number("lat", -90.0, 90.0)
    k = _integer("k", 1, MAX_K, required=False, default=1)
    state = _state()
    where, _ = _filter(layer_id, state.store)
    neighbours = state.store.nearest(layer_id, lon, lat, where=where, k=k)  # type: ignore[attr-defined]
    features = []
    for neighbour in neighbours:
        feature = dict(neighbour.feature)
        feature["distance"] = round(float(neighbour.distance), 2)  # metres, geodesic (WGS84)
        feature["links"] = [{"rel": "item", "type": "text/html", "title": "fiche",
                             "href": f"{state.base}/collections/{layer_id}/items/{feature['id']}"}]
        features.append(feature)
    return _json({
        "type": "FeatureCollection",
        "origin": {"type": "Point", "coordinates": [lon, lat]},
        "distanceUnit": "m",
        "features": features,
        "numberReturned": len(features),
    })


@blueprint.get("/collections/<collection_id>/aggregate")
def tile_counts(collection_id: str) -> Response:
    layer_id = _layer(collection_id)
    _check_known({"bbox", "level", "filter", "filter-lang", "f"})
    if request.args.get("f") not in (None, "json", "geojson"):
        raise _bad("f", "f : seul le format json est proposé")
    bbox = _bbox()
    level = _integer("level", 0, MAX_LEVEL, required=True, default=0)
    if tile_count(bbox, level) > MAX_TILES:
        raise _bad("level", f"level : trop de tuiles pour cette bbox (plus de {MAX_TILES}) ; choisir un niveau plus bas")
    state = _state()
    where, filter_key = _filter(layer_id, state.store)
    body = aggregate(state.store, layer_id, bbox, level, where=where, filter_key=filter_key, cache=state.counts)
    return _json(body, cache="public, max-age=60")


# -- wiring ----------------------------------------------------------------------------------


def register(app: Flask, settings: Settings, store: Store | None = None) -> Flask:
    """Serve the map on ``app``: call once, after ``create_app`` built it."""
    if EXTENSION in app.extensions:
        return app
    app.extensions[EXTENSION] = MapState(settings, _base_path(settings), store)
    app.register_blueprint(blueprint)
    return app
