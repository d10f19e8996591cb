"""``/collections/{id}/sortables``: the properties ``sortby`` accepts, as a JSON Schema.

pygeoapi 0.24 has no sortables resource; clients (QGIS, the OGC sorting extension) read it
to know what they may sort on. It lists exactly what the HTTP layer's ``sortby`` check
accepts — the layer's scalar fields — from the published layer's metadata, so it is
generated, never hand-kept.
"""

from __future__ import annotations

import orjson
from flask import Blueprint, Flask, Response, current_app, request

from layers.settings import Settings

from .http.errors import InvalidParameter, UnknownResource, error_response
from .http.param_checks import SCALAR_TYPES

EXTENSION = "geocommune_sortables"
blueprint = Blueprint(EXTENSION, __name__)

# Our stored field types → JSON Schema (dates as formatted strings).
_JSON_TYPES = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "year": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "time": {"type": "string", "format": "time"},
}


def sortable_properties(field_types: dict[str, str]) -> dict[str, dict[str, str]]:
    properties = {"id": {"type": "string", "title": "identifiant"}}
    for name, kind in field_types.items():
        if kind in SCALAR_TYPES and name != "id":
            properties[name] = dict(_JSON_TYPES.get(kind, {"type": "string"}))
    return properties


@blueprint.get("/collections/<collection_id>/sortables")
def sortables(collection_id: str) -> Response:
    from .provider import shared_store  # the worker's one store (GeoPackage or PostGIS)

    unknown = sorted(set(request.args) - {"f", "lang"})
    if unknown:
        return error_response(InvalidParameter(unknown[0], f"paramètre inconnu « {unknown[0]} » (acceptés : f, lang)"))
    if request.args.get("f") not in (None, "json"):
        return error_response(InvalidParameter("f", "f : seul le format json est proposé pour les sortables"))
    settings: Settings = current_app.extensions[EXTENSION]
    metadata = shared_store(settings).metadata(collection_id)
    if metadata is None:
        return error_response(UnknownResource(f"collection « {collection_id} » inconnue"))
    base = (settings.public_url or request.host_url).rstrip("/")
    body = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/collections/{collection_id}/sortables",
        "type": "object",
        "title": (metadata.get("title") or {}).get("fr", collection_id),
        "properties": sortable_properties(dict(metadata.get("field_types") or {})),
    }
    return Response(orjson.dumps(body), content_type="application/schema+json")


def register(app: Flask, settings: Settings) -> Flask:
    if EXTENSION not in app.extensions:
        app.extensions[EXTENSION] = settings
        app.register_blueprint(blueprint)
    return app
