"""Collection metadata: licence, producer, publisher, update frequency, last update, source,
national schema, counts and the RGPD note, on ``/collections`` and ``/collections/{id}``.

pygeoapi 0.24 builds those JSON documents from its configuration and offers no hook for
extra members; they are added to its JSON (``application/json`` only, not the schema.org
JSON-LD of ``f=jsonld``) by an extender of ``server/http/documents.py``, before the HTTP
layer restores the JSON text, sets the ETag and compresses. The members are read from the
store at each request, like the ETag: a re-publication shows at once.

The same description (``collection_metadata``) is written into the generated pygeoapi
configuration (``extend_resource``), where the HTML collection page reads it
(``templates/collections/_metadata.html``): that copy is the one of the server's start,
like the collection's description.

Members (documented in the README, section « Métadonnées des collections »):

- ``license``: the SPDX identifier (as STAC and OGC API Records name it); the licence's
  name and URL are pygeoapi's ``rel="license"`` link;
- ``updated``: the last publication (ISO 8601, UTC);
- ``metadata``: ``licence``, ``producer``, ``publisher``, ``updateFrequency`` (code, EU
  frequency URI, French and English label), ``lastUpdate``, ``source`` (file, sha256,
  format), ``schema`` (name, title, version, URL), ``counts`` (read, published,
  rejected), ``rgpd`` (note in both languages, the catalogue's rules, what the last
  publication removed) and ``dcat`` (the catalogue's URL).
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask

from layers.catalogue import Catalogue, LayerSpec, get_catalogue
from layers.settings import Settings


LOGGER = logging.getLogger("geocommune.metadata")

EXTENSION = "geocommune_collection_metadata"
CONFIG_KEY = "geocommune_metadata"  # the resource key read by templates/collections/_metadata.html
DCAT_PATH = "/catalogue.jsonld"

EU_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
# Catalogue ``update_frequency`` → EU frequency authority (what DCAT-AP and data.gouv.fr read).
FREQUENCY_CODES = {
    "continuous": "UPDATE_CONT",
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "quarterly": "QUARTERLY",
    "biannual": "ANNUAL_2",  # twice a year (EU "semiannual")
    "annual": "ANNUAL",
    "irregular": "IRREG",
}

# Counters the ingestion report keeps for the RGPD step (layers/rgpd.py) → our names.
_RGPD_COUNTS = {
    "colonnes_rgpd_retirees": "removedColumns",
    "lignes_personne_physique_anonymisees": "anonymisedRows",
    "textes_libres_expurges": "scrubbedTexts",
}


def frequency_uri(code: str) -> str:
    return EU_FREQUENCY + FREQUENCY_CODES.get(code, "UNKNOWN")


def dcat_url(base_url: str) -> str:
    return base_url.rstrip("/") + DCAT_PATH


def _rgpd(spec: LayerSpec, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The catalogue's rules (what is always removed), and what the last publication's
    report counted — the report is stored with the layer by the ingestion pipeline."""
    rules = spec.rgpd
    report_counts = (metadata.get("report") or {}).get("counts")
    applied = None
    if isinstance(report_counts, Mapping):
        applied = {ours: int(report_counts.get(theirs, 0) or 0) for theirs, ours in _RGPD_COUNTS.items()}
    return {
        "note": {"fr": rules.note.get("fr", ""), "en": rules.note.get("en", "")},
        "removedFields": list(rules.drop),
        "removedFieldPatterns": list(rules.drop_patterns),
        "blankedWhenNaturalPerson": (
            {"test": rules.drop_if_person_test, "fields": list(rules.drop_if_person_fields)}
            if rules.drop_if_person_test else None
        ),
        "freeTextScrubbed": bool(rules.scrub_free_text),
        "lastPublication": applied,
        # The ingestion's own lines about removals (French, as in the report).
        "notes": [str(n) for n in ((metadata.get("rgpd") or {}).get("notes") or [])],
    }


def _count(counts: Mapping[str, Any], key: str) -> int | None:
    value = counts.get(key)
    return int(value) if isinstance(value, (int, float)) else None


def collection_metadata(
    spec: LayerSpec, metadata: Mapping[str, Any] | None, catalogue: Catalogue, base_url: str
) -> dict[str, Any]:
    """The ``metadata`` member of one collection: the catalogue says what is published
    (licence, producer, frequency, schema, RGPD rules), the store's metadata what the
    last publication was (when, from which file, how many features)."""
    metadata = metadata or {}
    source = metadata.get("source") or {}
    counts = metadata.get("counts") or {}
    publisher = catalogue.publisher
    licence = spec.licence
    return {
        "licence": {"spdx": licence.spdx, "name": licence.name, "url": licence.url},
        "producer": spec.producer,
        "publisher": {
            "name": publisher.get("name"),
            "url": publisher.get("url"),
            "email": publisher.get("email"),
        },
        "updateFrequency": {
            "code": spec.update_frequency,
            "uri": frequency_uri(spec.update_frequency),
            "label": spec.frequency_label,
        },
        "lastUpdate": metadata.get("published_at"),
        "source": {
            "file": source.get("file") or source.get("name"),
            "sha256": source.get("sha256"),
            "format": source.get("format"),
        },
        "schema": {
            "name": spec.schema.name,
            "title": spec.schema.title,
            "version": spec.schema.version,
            "url": spec.schema.url,
        },
        "counts": {key: _count(counts, key) for key in ("read", "published", "rejected")},
        "rgpd": _rgpd(spec, metadata),
        "dcat": dcat_url(base_url),
    }


def collection_members(
    spec: LayerSpec, metadata: Mapping[str, Any] | None, catalogue: Catalogue, base_url: str
) -> dict[str, Any]:
    """The members added to a collection's JSON document."""
    described = collection_metadata(spec, metadata, catalogue, base_url)
    members: dict[str, Any] = {"license": spec.licence.spdx or "other"}  # STAC: "other" when not SPDX
    if described["lastUpdate"]:
        members["updated"] = described["lastUpdate"]
    members["metadata"] = described
    return members


def dcat_link(base_url: str) -> dict[str, str]:
    return {
        "type": "application/ld+json",
        "rel": "describedby",
        # pygeoapi's configuration schema wants a plain string title.
        "title": "Catalogue DCAT-AP des couches (JSON-LD)",
        "href": dcat_url(base_url),
    }


def extend_resource(
    resource: dict[str, Any], spec: LayerSpec, metadata: Mapping[str, Any] | None, catalogue: Catalogue,
    base_url: str,
) -> None:
    """Add to a generated pygeoapi collection resource what its configuration can carry: a
    link to the DCAT catalogue (JSON and HTML) and the metadata the HTML page shows.

    The link goes first: pygeoapi's own ``describedby`` link (the national schema) stays
    the last of that relation, where clients that keep one link per relation find it."""
    resource["links"].insert(0, dcat_link(base_url))
    resource[CONFIG_KEY] = collection_metadata(spec, metadata, catalogue, base_url)


# -- the extender of pygeoapi's documents ----------------------------------------------------


class CollectionMetadata:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _members(self, collection_id: str, catalogue: Catalogue, store) -> dict[str, Any] | None:
        spec = next((layer for layer in catalogue.layers if layer.id == collection_id), None)
        if spec is None:
            return None
        return collection_members(spec, store.metadata(collection_id), catalogue, self.settings.public_url)

    def extend(self, kind: str, document: dict[str, Any]) -> None:
        """Extender of pygeoapi's documents (``server/http/documents.py``)."""
        from .http.documents import collections_of
        from .provider import shared_store  # the worker's one store (GeoPackage or PostGIS)

        if kind == "landing":
            document.setdefault("links", []).append(dcat_link(self.settings.public_url))
            return
        catalogue = get_catalogue(self.settings.catalogue)
        store = shared_store(self.settings)
        for collection in collections_of(kind, document):
            members = self._members(str(collection.get("id")), catalogue, store)
            if members:
                collection.update(members)


def register(app: Flask, settings: Settings) -> Flask:
    """Add the members to pygeoapi's documents; call after ``install_http_layer``."""
    # Imported here: server.http imports pygeoapi_config, which imports this module.
    from .http.documents import add_extender

    if EXTENSION not in app.extensions:
        extension = CollectionMetadata(settings)
        app.extensions[EXTENSION] = extension
        add_extender(app, extension.extend)
    return app
