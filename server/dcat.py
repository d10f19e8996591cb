"""``/catalogue.jsonld`` (and ``/dcat``): the published layers as a DCAT-AP catalogue in JSON-LD.

The shape data.gouv.fr's DCAT harvester (udata, ``udata/core/dataset/rdf.py``) reads: one
``dcat:Dataset`` per served, published layer with ``dct:identifier`` (the harvester's key:
the collection URL, stable as long as the public URL is), French then English title and
description, keywords, ``dct:license`` (the licence URL, also on every distribution),
``dct:accrualPeriodicity`` (EU frequency authority), ``dct:spatial`` (the layer's extent as
GeoJSON and WKT literals, the two datatypes udata understands), ``dct:conformsTo`` (the
national schema's page), ``dcat:landingPage`` (the HTML collection page), a
``dcat:contactPoint`` with an e-mail address, and ``dcat:distribution``: the OGC API
items endpoint (``dcat:accessURL`` + ``dcat:accessService``, which udata files as an API)
and one per download format of server/downloads (``dcat:downloadURL``, IANA
``dcat:mediaType``, EU ``dct:format``). The API itself is a ``dcat:DataService``.

Built from the catalogue (what is published: licences, producers, schemas) and the store's
metadata (when, extent), at each request; listed: the collections the server serves that
the store says are published. Values are JSON-LD value objects with explicit prefixes
(no ``@vocab`` guessing), so the document means the same to every JSON-LD processor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
from typing import Any, Mapping

import orjson
from flask import Blueprint, Flask, Response, current_app, request

from layers.catalogue import Catalogue, LayerSpec, get_catalogue
from layers.settings import Settings

from . import collection_metadata
from .collection_metadata import DCAT_PATH, frequency_uri
from .downloads.formats import FORMATS, download_path
from .pygeoapi_config import _territory_bbox  # the extent pygeoapi shows when none was published
from .http import caching
from .http.errors import InvalidParameter, error_response

EXTENSION = "geocommune_dcat"
blueprint = Blueprint(EXTENSION, __name__)

MEDIA_TYPE = "application/ld+json"

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "locn": "http://www.w3.org/ns/locn#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "adms": "http://www.w3.org/ns/adms#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "gsp": "http://www.opengis.net/ont/geosparql#",
}

EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
EU_LANGUAGE = "http://publications.europa.eu/resource/authority/language/"
IANA = "https://www.iana.org/assignments/media-types/"
GEOJSON_LITERAL = IANA + "application/vnd.geo+json"  # the GeoDCAT-AP / udata datatype
OGC_API_FEATURES = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"


# The downloads are server/downloads' formats (one table, ``FORMATS``); what DCAT-AP adds:
# the EU file type of each, and which media types IANA registered. A format missing here is
# still listed, its ``dct:format`` a labelled ``dct:MediaTypeOrExtent`` and without
# ``dcat:mediaType`` — as FlatGeobuf, in neither list (``application/flatgeobuf`` is usage only).
EU_FILE_TYPES = {"geojson": "GEOJSON", "csv": "CSV", "gpkg": "GPKG"}
IANA_REGISTERED = frozenset({"application/geo+json", "text/csv", "application/geopackage+sqlite3"})


def _ref(uri: str) -> dict[str, str]:
    return {"@id": uri}


def _text(values: Mapping[str, str]) -> list[dict[str, str]]:
    """Language-tagged literals, French first (harvesters that keep one value keep it)."""
    return [{"@value": values[lang], "@language": lang} for lang in ("fr", "en") if values.get(lang)]


def _datetime(value: str | None) -> dict[str, str] | None:
    return {"@value": value, "@type": "xsd:dateTime"} if value else None


def _format(label: str, eu_code: str | None) -> dict[str, Any]:
    if eu_code:
        return _ref(EU_FILE_TYPE + eu_code)
    return {"@type": "dct:MediaTypeOrExtent", "rdfs:label": label}


def _spatial(bbox: list[float]) -> dict[str, Any]:
    west, south, east, north = (float(v) for v in bbox)
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    wkt = "POLYGON((" + ", ".join(f"{x} {y}" for x, y in ring) + "))"
    return {
        "@type": "dct:Location",
        "dcat:bbox": {"@value": wkt, "@type": "gsp:wktLiteral"},
        "locn:geometry": {"@value": orjson.dumps({"type": "Polygon", "coordinates": [ring]}).decode(),
                          "@type": GEOJSON_LITERAL},
    }


def _compact(node: dict[str, Any]) -> dict[str, Any]:
    """Drop the properties whose value is unknown (None or empty)."""
    return {k: v for k, v in node.items() if v not in (None, [], "")}


def _distributions(spec: LayerSpec, base: str, collection: str, licence: dict, modified: dict | None,
                   service: str) -> list[dict[str, Any]]:
    items = f"{collection}/items"
    api = _compact({
        "@id": f"{collection}#api",
        "@type": "dcat:Distribution",
        "dct:title": _text({"fr": "API OGC API – Features (GeoJSON)", "en": "OGC API – Features (GeoJSON)"}),
        "dct:description": _text({
            "fr": "Interrogation en ligne : emprise, filtres CQL2, tri, pagination.",
            "en": "Online queries: bounding box, CQL2 filters, sorting, paging.",
        }),
        "dcat:accessURL": _ref(items),
        "dcat:accessService": _ref(service),
        "dct:format": {"@type": "dct:MediaTypeOrExtent", "rdfs:label": "OGC API - Features"},
        "dcat:mediaType": _ref(IANA + "application/geo+json"),
        "dct:conformsTo": _ref(OGC_API_FEATURES),
        "dct:license": licence,
        "dct:modified": modified,
    })
    out = [api]
    for key, fmt in FORMATS.items():
        url = f"{base}{download_path(spec.id, key)}"
        media_type = fmt.media_type.split(";")[0].strip()
        out.append(_compact({
            "@id": f"{collection}#{key}",
            "@type": "dcat:Distribution",
            "dct:title": _text({"fr": f"Téléchargement {fmt.label} : {spec.title['fr']}",
                                "en": f"{fmt.label} download: {spec.title['en']}"}),
            "dcat:accessURL": _ref(url),
            "dcat:downloadURL": _ref(url),
            "dcat:mediaType": _ref(IANA + media_type) if media_type in IANA_REGISTERED else None,
            "dct:format": _format(fmt.label, EU_FILE_TYPES.get(key)),
            "dct:license": licence,
            "dct:modified": modified,
        }))
    return out


def dataset(spec: LayerSpec, metadata: Mapping[str, Any], catalogue: Catalogue, base: str,
            publisher: str, service: str) -> dict[str, Any]:
    """One ``dcat:Dataset``: the layer, identified by its collection URL."""
    collection = f"{base}/collections/{spec.id}"
    licence = _ref(spec.licence.url)
    published = metadata.get("published_at")
    source = metadata.get("source") or {}
    counts = metadata.get("counts") or {}
    note = spec.rgpd.note
    description = {
        lang: f"{spec.description[lang]}\n\n{note[lang]}" if note.get(lang) else spec.description[lang]
        for lang in ("fr", "en")
    }
    provenance = {
        "fr": (f"Publié par {catalogue.publisher['name']} depuis le fichier {source.get('file') or source.get('name') or '?'}"
               f" (sha256 {source.get('sha256') or '?'}) : {counts.get('published', '?')} entités sur "
               f"{counts.get('read', '?')} lignes lues, validées à l'ingestion contre le schéma "
               f"{spec.schema.name} {spec.schema.version}. {note.get('fr', '')}"),
        "en": (f"Published by {catalogue.publisher['name']} from the file {source.get('file') or source.get('name') or '?'}"
               f" (sha256 {source.get('sha256') or '?'}): {counts.get('published', '?')} features out of "
               f"{counts.get('read', '?')} rows read, validated at ingestion against the schema "
               f"{spec.schema.name} {spec.schema.version}. {note.get('en', '')}"),
    }
    schema = _compact({
        "@id": spec.schema.url,
        "@type": "dct:Standard",
        "dct:title": spec.schema.title or spec.schema.name,
        "dct:identifier": spec.schema.name,
        "owl:versionInfo": spec.schema.version,
    }) if spec.schema.url else None
    email = catalogue.publisher.get("email")
    return _compact({
        "@id": collection,
        "@type": "dcat:Dataset",
        "dct:identifier": collection,
        "adms:identifier": {"@type": "adms:Identifier", "skos:notation": spec.id},
        "dct:title": _text(spec.title),
        "dct:description": _text(description),
        "dcat:keyword": [{"@value": word, "@language": lang}
                         for lang in ("fr", "en") for word in spec.keywords.get(lang, [])],
        "dct:language": _ref(EU_LANGUAGE + "FRA"),
        "dct:license": licence,
        "dct:publisher": _ref(publisher),
        "dct:creator": {"@type": "foaf:Organization", "foaf:name": spec.producer},
        "dcat:contactPoint": _compact({
            "@type": "vcard:Organization",
            "vcard:fn": catalogue.publisher.get("name"),
            "vcard:hasEmail": _ref(f"mailto:{email}") if email else None,
            "vcard:hasURL": _ref(catalogue.publisher["url"]) if catalogue.publisher.get("url") else None,
        }),
        "dct:accrualPeriodicity": _ref(frequency_uri(spec.update_frequency)),
        "dct:issued": _datetime(published),
        "dct:modified": _datetime(published),
        "dct:spatial": _spatial(metadata.get("extent") or _territory_bbox(catalogue)),
        "dct:conformsTo": schema,
        "dct:provenance": {"@type": "dct:ProvenanceStatement", "rdfs:label": _text(provenance)},
        "dcat:landingPage": _ref(f"{collection}?f=html"),
        "dcat:distribution": _distributions(spec, base, collection, licence, _datetime(published), service),
    })


def catalogue_document(catalogue: Catalogue, layers: list[tuple[LayerSpec, Mapping[str, Any]]], base: str,
                       identification: Mapping[str, Any]) -> dict[str, Any]:
    """The whole JSON-LD document: the catalogue, its publisher and the API service."""
    base = base.rstrip("/")
    publisher_id = f"{base}{DCAT_PATH}#publisher"
    service_id = f"{base}/"
    publisher = catalogue.publisher
    datasets = [dataset(spec, metadata, catalogue, base, publisher_id, service_id) for spec, metadata in layers]
    modified = max((str(m["published_at"]) for _, m in layers if m.get("published_at")), default=None)
    catalog = _compact({
        "@id": f"{base}{DCAT_PATH}",
        "@type": "dcat:Catalog",
        "dct:title": _text(identification.get("title") or {}),
        "dct:description": _text(identification.get("description") or {}),
        "dct:publisher": _ref(publisher_id),
        "foaf:homepage": _ref(service_id),
        "dct:language": [_ref(EU_LANGUAGE + "FRA"), _ref(EU_LANGUAGE + "ENG")],
        "dct:modified": _datetime(modified),
        "dcat:dataset": datasets,
        "dcat:service": _ref(service_id),
    })
    organisation = _compact({
        "@id": publisher_id,
        "@type": ["foaf:Organization", "foaf:Agent"],
        "foaf:name": publisher.get("name"),
        "foaf:homepage": _ref(publisher["url"]) if publisher.get("url") else None,
        "foaf:mbox": _ref(f"mailto:{publisher['email']}") if publisher.get("email") else None,
    })
    service = _compact({
        "@id": service_id,
        "@type": "dcat:DataService",
        "dct:title": _text({"fr": "API OGC API – Features", "en": "OGC API – Features"}),
        "dcat:endpointURL": _ref(service_id),
        "dcat:endpointDescription": _ref(f"{base}/openapi"),
        "dct:conformsTo": _ref(OGC_API_FEATURES),
        "dct:publisher": _ref(publisher_id),
        "dcat:servesDataset": [_ref(d["@id"]) for d in datasets],
    })
    return {"@context": CONTEXT, "@graph": [catalog, organisation, service]}


def _texts(value: Any) -> dict[str, str]:
    """A pygeoapi configuration text ({fr, en} or a plain string) as {fr, en}."""
    if isinstance(value, Mapping):
        return {lang: str(value[lang]) for lang in ("fr", "en") if value.get(lang)}
    return {"fr": str(value)} if value else {}


@blueprint.get(DCAT_PATH)
@blueprint.get("/dcat")
def catalogue_view() -> Response:
    from .provider import shared_store  # the worker's one store (GeoPackage or PostGIS)

    unknown = sorted(set(request.args) - {"f"})
    if unknown:
        return error_response(InvalidParameter(unknown[0], f"paramètre inconnu « {unknown[0]} » (accepté : f)"))
    if len(request.args.getlist("f")) > 1 or request.args.get("f") not in (None, "jsonld", "json"):
        return error_response(InvalidParameter("f", "f : seul le format jsonld (DCAT-AP en JSON-LD) est proposé"))
    state: _State = current_app.extensions[EXTENSION]
    settings = state.settings
    catalogue = get_catalogue(settings.catalogue)
    store = shared_store(settings)
    layers = []
    for spec in catalogue.layers:
        if spec.id not in state.served:
            continue  # published after the server started: not served until its restart
        metadata = store.metadata(spec.id)
        if metadata is not None:
            layers.append((spec, metadata))
    document = catalogue_document(catalogue, layers, settings.public_url, state.identification)
    body = orjson.dumps(document)
    dates = [m.get("published_at") for _, m in layers if m.get("published_at")]
    validators = caching.Validators(hashlib.sha256(body).hexdigest()[:32], _latest(dates))
    if caching.not_modified(request, validators):
        response = Response(status=304)
    else:
        response = Response(body, content_type=MEDIA_TYPE)
    caching.apply(response, validators, settings.cache_max_age)
    return response


def _latest(dates: list[str]) -> dt.datetime | None:
    parsed = []
    for value in dates:
        try:
            when = dt.datetime.fromisoformat(str(value))
        except ValueError:
            continue
        parsed.append(when if when.tzinfo else when.replace(tzinfo=dt.UTC))
    return max(parsed, default=None)


class _State:
    def __init__(self, settings: Settings, identification: Mapping[str, Any], served: frozenset[str]) -> None:
        self.settings = settings
        self.identification = identification
        self.served = served


def register(app: Flask, settings: Settings) -> Flask:
    """The layers' metadata on ``app``: this catalogue, and the metadata members of the
    collections' JSON (``collection_metadata``). Call after ``install_http_layer`` (its
    ``after_request`` then runs first) — pygeoapi's configuration is loaded by then: its
    title and description, and the collections it serves, are the catalogue's."""
    collection_metadata.register(app, settings)
    if EXTENSION not in app.extensions:
        module = sys.modules.get("pygeoapi.flask_app")
        config = getattr(module, "CONFIG", None) or {}
        identification = (config.get("metadata") or {}).get("identification") or {}
        served = frozenset(
            cid for cid, resource in (config.get("resources") or {}).items() if resource.get("type") == "collection"
        )
        app.extensions[EXTENSION] = _State(
            settings,
            {"title": _texts(identification.get("title")), "description": _texts(identification.get("description"))},
            served,
        )
        app.register_blueprint(blueprint)
    return app
