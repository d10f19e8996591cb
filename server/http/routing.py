"""Which OGC API resource a request addresses, and what the configuration says of each collection.

The HTTP layer works on pygeoapi's Flask routes by their endpoint names; everything else
(static files, the map, other blueprints) is ``other`` and left alone by the parameter
check and the caching.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from flask import Request
from pygeoapi.util import get_dataset_formatters

# Formats every pygeoapi JSON/HTML resource answers (``f=``).
BASE_FORMATS = frozenset({"json", "html", "jsonld"})

# pygeoapi's Flask endpoint → our resource kind (``collections`` and ``collection_items``
# serve two kinds each, told apart by the URL variables).
_ENDPOINTS = {
    "pygeoapi.landing_page": "landing",
    "pygeoapi.openapi": "openapi",
    "pygeoapi.conformance": "conformance",
    "pygeoapi.collections": "collections",
    "pygeoapi.collection_schema": "schema",
    "pygeoapi.collection_queryables": "queryables",
    "pygeoapi.collection_items": "items",
    # The HTTP layer's own resources (server/http/layer.py).
    "geocommune_http.health": "health",
    "geocommune_http.metrics": "metrics",
}

GLOBAL_KINDS = frozenset({"landing", "openapi", "conformance", "collections"})
COLLECTION_KINDS = frozenset({"collection", "schema", "queryables", "items", "item"})
OGC_KINDS = GLOBAL_KINDS | COLLECTION_KINDS


@dataclass(frozen=True)
class Route:
    kind: str  # one of OGC_KINDS, "health", "metrics", or the Flask endpoint name / "unmatched"
    collection: str | None = None  # as requested (possibly unknown)
    item: str | None = None


def classify(request: Request) -> Route:
    endpoint = request.endpoint
    if endpoint is None:
        return Route("unmatched")
    kind = _ENDPOINTS.get(endpoint)
    if kind is None:
        return Route(endpoint)
    args = request.view_args or {}
    collection = args.get("collection_id")
    item = args.get("item_id")
    if kind == "collections" and collection is not None:
        kind = "collection"
    elif kind == "items" and item is not None:
        kind = "item"
    return Route(kind, collection, item)


@dataclass(frozen=True)
class CollectionInfo:
    """What the pygeoapi configuration says of one served collection."""

    id: str
    data: str  # where the layer lives: the GeoPackage file, or a password-free PostGIS location
    crs: tuple[str, ...]  # output / bbox / filter CRS URIs offered
    item_formats: frozenset[str]  # ``f`` values on /items (json, html, jsonld + formatters)
    temporal: bool  # has a temporal extent (``datetime`` is meaningful)
    unconfirmed: bool = False  # served without the store confirming its publication (down at start-up)


def collections_from_config(config: Mapping[str, Any]) -> dict[str, CollectionInfo]:
    infos: dict[str, CollectionInfo] = {}
    for cid, resource in (config.get("resources") or {}).items():
        if resource.get("type") != "collection":
            continue
        providers = resource.get("providers") or []
        feature = next((p for p in providers if p.get("type") in ("feature", "record")), None)
        if feature is None:
            continue
        formatters = {df.f for df in get_dataset_formatters(resource).values()}
        infos[cid] = CollectionInfo(
            id=cid,
            data=str(feature.get("data", "")),
            crs=tuple(feature.get("crs") or ("http://www.opengis.net/def/crs/OGC/1.3/CRS84",)),
            item_formats=BASE_FORMATS | frozenset(f.lower() for f in formatters),
            temporal=bool((resource.get("extents") or {}).get("temporal")),
            unconfirmed=bool(feature.get("unconfirmed")),
        )
    return infos
