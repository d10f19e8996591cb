"""The pygeoapi configuration, generated from the catalogue and the store — never kept by hand.

One ``collection`` resource per *published* layer (a catalogue entry that was never
published is not served). Titles, descriptions and keywords carry both languages; French
comes first in ``server.languages`` and is therefore pygeoapi's default.

The provider's ``data`` says where the layer lives: the GeoPackage file, or for PostGIS the
``postgresql://user:***@host:port/db#schema.layer`` (password masked). The credentials stay out of
this file (written under the data folder): the provider takes the store URL from the
process's settings (``server.provider``).

When the store cannot be reached at start-up (PostgreSQL down), the server still starts:
every catalogue layer is described from the catalogue alone (territory extent, no
publication details), a warning says so, and data requests answer 503 until the database
is back — then they are served, without a restart.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from layers.catalogue import Catalogue, LayerSpec
from layers.settings import Settings
from layers.store import Store, StoreUnavailableError

from .assets import html_config
from .downloads import DOWNLOADS_KEY, enclosure_links
from .collection_metadata import extend_resource

LOGGER = logging.getLogger(__name__)

PROVIDER_NAME = "server.provider.GeoPackageProvider"

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
STORAGE_CRS = CRS84
# Output CRSs offered on every collection (OGC API Features part 2): WGS84 both axis
# orders, Lambert-93, Web Mercator, and the nine Lambert conic conformal zones CC42…CC50.
SUPPORTED_CRS = [
    CRS84,
    "http://www.opengis.net/def/crs/EPSG/0/4326",
    "http://www.opengis.net/def/crs/EPSG/0/2154",
    "http://www.opengis.net/def/crs/EPSG/0/3857",
    *[f"http://www.opengis.net/def/crs/EPSG/0/{code}" for code in range(3942, 3951)],
]

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000

BASEMAPS = {
    "osm": (
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        '&copy; <a href="https://openstreetmap.org/copyright">contributeurs OpenStreetMap</a>',
    ),
    "ign": (
        "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2"
        "&STYLE=normal&FORMAT=image/png&TILEMATRIXSET=PM&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}",
        '&copy; <a href="https://www.ign.fr/">IGN</a>',
    ),
}

# Field names that, when present, name a feature for people (HTML item pages).
TITLE_FIELD_CANDIDATES = ("nom", "name", "titre", "title", "libelle", "nom_etablissement", "denomination")


def _licence_summary(catalogue: Catalogue, published: list[LayerSpec]) -> dict[str, str]:
    licences = {layer.licence.key: layer.licence for layer in (published or catalogue.layers)}
    if len(licences) == 1:
        (licence,) = licences.values()
        return {"name": licence.name, "url": licence.url}
    names = " ou ".join(licence.name for licence in licences.values())
    first = next(iter(licences.values()), None)
    return {"name": f"{names}, selon la collection", "url": first.url if first else ""}


def _title_field(field_types: dict[str, str]) -> str | None:
    for name in TITLE_FIELD_CANDIDATES:
        if field_types.get(name) == "string":
            return name
    return None


def _territory_bbox(catalogue: Catalogue) -> list[float]:
    boxes = catalogue.territory_bboxes
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


def _description(spec: LayerSpec, metadata: dict[str, Any]) -> dict[str, str]:
    """The catalogue's description, followed by what the last publication says of the data:
    source, counts, how far it conforms to the national schema, and what RGPD removed."""
    counts = metadata.get("counts", {})
    conformance = metadata.get("conformance", {})
    source = metadata.get("source", {}).get("file", "?")
    schema = f"{spec.schema.name} {spec.schema.version}"
    errors = conformance.get("errors", 0)
    fr_conf = (f"conforme au schéma {schema}" if conformance.get("conforms")
               else f"{errors} écart(s) au schéma {schema} signalé(s) à l'ingestion")
    en_conf = (f"conforms to schema {schema}" if conformance.get("conforms")
               else f"{errors} deviation(s) from schema {schema} reported at ingestion")
    fr = (f"{spec.description['fr']} — Source : {source} ; {counts.get('published', '?')} entités publiées "
          f"sur {counts.get('read', '?')} lignes lues ; {fr_conf}. {spec.rgpd.note.get('fr', '')}")
    en = (f"{spec.description['en']} — Source: {source}; {counts.get('published', '?')} features published "
          f"out of {counts.get('read', '?')} rows read; {en_conf}. {spec.rgpd.note.get('en', '')}")
    return {"fr": fr.strip(), "en": en.strip()}


def layer_location(store: Store, layer_id: str) -> str:
    """The provider's ``data``: the resolved GeoPackage file, or the store's own
    location with its password masked (PostGIS: ``postgresql://user:***@host:port/db#schema.layer``)."""
    where = store.path(layer_id)
    return str(where.resolve()) if isinstance(where, Path) else str(where)


def _collection(
    spec: LayerSpec, metadata: dict[str, Any], store: Store, catalogue: Catalogue, *, unconfirmed: bool = False
) -> dict[str, Any]:
    links = [
        {
            "type": "text/html",
            "rel": "license",
            "title": spec.licence.name,
            "href": spec.licence.url,
        }
    ]
    if spec.schema.url:
        links.append(
            {
                "type": "text/html",
                "rel": "describedby",
                # pygeoapi's config schema wants a plain string here (no {fr, en}).
                "title": f"Schéma national : {spec.schema.title or spec.schema.name} {spec.schema.version}",
                "href": spec.schema.url,
            }
        )
    extent = metadata.get("extent") or _territory_bbox(catalogue)
    extents: dict[str, Any] = {"spatial": {"bbox": [float(v) for v in extent], "crs": CRS84}}
    temporal = metadata.get("temporal")  # {"begin": …, "end": …} when a layer has a time field
    if temporal:
        extents["temporal"] = temporal
    provider: dict[str, Any] = {
        "type": "feature",
        "name": PROVIDER_NAME,
        "data": layer_location(store, spec.id),
        "table": spec.id,
        "id_field": "id",
        "crs": list(SUPPORTED_CRS),
        "storage_crs": STORAGE_CRS,
        # Read by our provider: queryables, /schema and OpenAPI typed from the national schema.
        "national_schema": {
            "name": spec.schema.name,
            "version": spec.schema.version,
            "kind": spec.schema.kind,
            "path": str(spec.schema.path),
        },
    }
    title_field = _title_field(metadata.get("field_types", {}))
    if title_field:
        provider["title_field"] = title_field
    if unconfirmed:
        # Served without knowing whether it is published (store unreachable at start-up):
        # once the database is back, a catalogue layer never published answers 404 and
        # does not make /health fail (server/http).
        provider["unconfirmed"] = True
    return {
        "type": "collection",
        "title": dict(spec.title),
        "description": _description(spec, metadata),
        "keywords": {lang: list(words) for lang, words in spec.keywords.items()},
        "links": links,
        "extents": extents,
        "providers": [provider],
    }


def published_layers(
    catalogue: Catalogue, store: Store
) -> tuple[list[LayerSpec], dict[str, dict[str, Any]], bool]:
    """The catalogue layers to serve, their publication metadata, and whether the store
    confirmed them.

    A store that cannot be reached (``StoreUnavailableError``) is not fatal: every catalogue
    layer is served, described from the catalogue alone, and a warning (no traceback) says so.
    """
    try:
        published_ids = set(store.published())
        published = [layer for layer in catalogue.layers if layer.id in published_ids]
        return published, {spec.id: store.metadata(spec.id) or {} for spec in published}, True
    except StoreUnavailableError as exc:
        LOGGER.warning(
            "stockage injoignable au démarrage (%s) : les %d couches du catalogue sont servies sans leurs "
            "métadonnées de publication ; les requêtes de données répondent 503 jusqu'au retour de la base, "
            "puis sont servies sans redémarrage (descriptions et emprises complètes au prochain démarrage)",
            exc.message, len(catalogue.layers),
        )
        return list(catalogue.layers), {spec.id: {} for spec in catalogue.layers}, False


def build_config(settings: Settings, catalogue: Catalogue, store: Store) -> dict[str, Any]:
    """The whole pygeoapi configuration as a dict (see ``write_config`` for the file)."""
    published, metadata, confirmed = published_layers(catalogue, store)
    resources: dict[str, Any] = {}
    for spec in published:
        resources[spec.id] = _collection(spec, metadata[spec.id], store, catalogue, unconfirmed=not confirmed)
        resources[spec.id][DOWNLOADS_KEY] = enclosure_links(settings.public_url, spec.id)  # read by the HTML page
        # A link to the DCAT catalogue, and the metadata block of the HTML collection page.
        extend_resource(resources[spec.id], spec, metadata[spec.id], catalogue, settings.public_url)

    publisher = catalogue.publisher
    map_url, attribution = BASEMAPS.get(settings.basemap, BASEMAPS["osm"])
    return {
        "server": {
            "bind": {"host": settings.host, "port": settings.port},
            "url": settings.public_url,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "gzip": False,
            "languages": ["fr", "en"],  # first = default
            "cors": False,
            "pretty_print": False,
            "limits": {"default_items": DEFAULT_LIMIT, "max_items": MAX_LIMIT, "on_exceed": "throttle"},
            "map": {"url": map_url, "attribution": attribution},
            # Templates, /static and French catalogue of the HTML pages; no tiles for basemap "none".
            **html_config(settings.basemap),
            "admin": False,
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": {
                    "fr": f"Données géographiques ouvertes — {publisher['name']}",
                    "en": f"Open geographic data — {publisher['name']}",
                },
                "description": {
                    "fr": "Couches publiées au format des schémas nationaux, validées à l'ingestion (OGC API Features).",
                    "en": "Layers published following the French national schemas, validated at ingestion (OGC API Features).",
                },
                "keywords": {
                    "fr": ["données ouvertes", "géographie", "commune", "schémas nationaux"],
                    "en": ["open data", "geospatial", "municipality", "national schemas"],
                },
                "keywords_type": "theme",
                "terms_of_service": _licence_summary(catalogue, published)["url"],
                "url": publisher.get("url", settings.public_url),
            },
            "license": _licence_summary(catalogue, published),
            "provider": {"name": publisher["name"], "url": publisher.get("url", "")},
            "contact": {
                "name": publisher["name"],
                "email": publisher.get("email", ""),
                "url": publisher.get("url", ""),
                "role": "pointOfContact",
            },
        },
        "resources": resources,
    }


def write_yaml(document: dict[str, Any], path: Path) -> Path:
    """Write atomically: a worker starting meanwhile never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yaml.safe_dump(document, handle, allow_unicode=True, sort_keys=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
