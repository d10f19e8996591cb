"""What pygeoapi 0.24 advertises, corrected to what this server does — the workarounds.

pygeoapi offers no plugin point for these; each correction replaces one module-level
name of pygeoapi (read at request time by its Flask routes) and says which behaviour it
corrects. ``apply()`` installs them all, once per process (it is idempotent).

1. Conformance list (``pygeoapi.api.itemtypes.CONFORMANCE_CLASSES_FEATURES``): pygeoapi
   declares the same list for every feature provider — including Part 4 transactions
   (our collections are read-only) and none of Part 3's ``filter`` / ``features-filter``
   nor the CQL2 classes our provider evaluates. QGIS only sends a filter to the server
   when ``filter``, ``features-filter``, ``basic-cql2`` and ``cql2-text`` are all
   declared, and otherwise downloads the whole layer to filter it itself.
2. Collection ``items`` link (``pygeoapi.api.gen_collection``): pygeoapi writes
   ``…/items?f=json``; GDAL's OAPIF driver (3.6) builds single-feature URLs by appending
   ``/{id}`` to that link, giving ``…/items?f=json/{id}`` (400) for ``-where "id = 'x'"``.
   The GeoJSON ``items`` link is written without its query string (the client's
   ``Accept: application/geo+json`` selects the format).
3. Filter parsing (``pygeoapi.api.itemtypes.parse_cql2_text`` / ``parse_cql2_json``):
   pygeoapi parses the ``filter`` query parameter as CQL2 text whatever ``filter-lang``
   says (so ``filter-lang=cql2-json`` never works in a GET), knows no ``S_DWITHIN``, and
   answers any syntax error with a bare "Bad CQL text". See ``cql_parse``.
4. Queryables (``pygeoapi.api.itemtypes.get_collection_queryables``): pygeoapi lists
   each field with its name as title and its type only; the provider's description
   (national schema: French title and description, enum, pattern, format, arrays with
   their item vocabulary, the ``id`` role and the geometry type) replaces it.
5. CRS helpers on the request path (``transform_bbox``, ``create_crs_transform_spec``):
   cached, see ``server/crs.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pygeoapi.api as core_api
import pygeoapi.api.itemtypes as itemtypes_api
from pygeoapi.plugin import load_plugin
from pygeoapi.provider import get_provider_by_type
from pygeoapi.util import to_json

from . import cql_parse, crs

__all__ = ["FEATURES_CONFORMANCE", "apply"]

_FEATURES_1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf"
_FEATURES_2 = "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf"
_FEATURES_3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf"
_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf"

# Exactly what the feature collections of this server do (each is covered by tests/api).
FEATURES_CONFORMANCE = [
    f"{_FEATURES_1}/core",
    f"{_FEATURES_1}/geojson",
    f"{_FEATURES_1}/html",
    f"{_FEATURES_1}/oas30",
    f"{_FEATURES_2}/crs",
    f"{_FEATURES_3}/filter",
    f"{_FEATURES_3}/features-filter",
    f"{_FEATURES_3}/queryables",
    f"{_FEATURES_3}/queryables-query-parameters",
    f"{_CQL2}/basic-cql2",
    f"{_CQL2}/cql2-text",
    f"{_CQL2}/cql2-json",
    f"{_CQL2}/advanced-comparison-operators",
    f"{_CQL2}/basic-spatial-functions",
]

_APPLIED = "_geocommune_corrected"


def _installed(function: Any) -> bool:
    return getattr(function, _APPLIED, False)


def _mark(function: Any) -> Any:
    setattr(function, _APPLIED, True)
    return function


# -- 2. items link --------------------------------------------------------------------


def _clean_items_link(gen_collection: Any) -> Any:
    def gen_collection_with_clean_items_link(api, request, dataset, locale_):  # noqa: ANN001, ANN202
        data = gen_collection(api, request, dataset, locale_)
        for link in data.get("links", []):
            if link.get("rel") == "items" and link.get("type") == "application/geo+json":
                link["href"] = link["href"].split("?", 1)[0]
        return data

    return _mark(gen_collection_with_clean_items_link)


# -- 3. filter parsing ----------------------------------------------------------------


def _filter_lang() -> str | None:
    """``filter-lang`` of the current request (Flask), if there is one."""
    try:
        from flask import has_request_context, request
    except ImportError:  # pragma: no cover (Flask is pygeoapi's dependency)
        return None
    if not has_request_context():
        return None
    return request.args.get("filter-lang")


def _parse_filter_parameter(text: str) -> Any:
    return cql_parse.parse(text, _filter_lang())


def _parse_filter_body(body: str | bytes) -> Any:
    language = _filter_lang()
    return cql_parse.parse(body, language if language in cql_parse.TEXT_LANGUAGES else "cql2-json")


# -- 4. queryables --------------------------------------------------------------------


def _described_queryables(get_collection_queryables: Any) -> Any:
    def queryables_from_provider(api, request, dataset=None):  # noqa: ANN001, ANN202
        headers, status, content = get_collection_queryables(api, request, dataset)
        if status != 200 or "json" not in str(headers.get("Content-Type", "")):
            return headers, status, content
        document = json.loads(content)
        provider = load_plugin(
            "provider", get_provider_by_type(api.config["resources"][dataset]["providers"], "feature")
        )
        describe = getattr(provider, "queryables", None)
        if describe is not None:
            document["properties"] = describe(list(document.get("properties", {})))
        return headers, status, to_json(document, api.pretty_print)

    return _mark(queryables_from_provider)


# -- all ------------------------------------------------------------------------------


def apply() -> None:
    """Install the corrections above into pygeoapi (idempotent; call before serving)."""
    itemtypes_api.CONFORMANCE_CLASSES_FEATURES[:] = FEATURES_CONFORMANCE
    if not _installed(core_api.gen_collection):
        core_api.gen_collection = _clean_items_link(core_api.gen_collection)
    if not _installed(itemtypes_api.parse_cql2_text):
        itemtypes_api.parse_cql2_text = _mark(_parse_filter_parameter)
        itemtypes_api.parse_cql2_json = _mark(_parse_filter_body)
    if not _installed(itemtypes_api.get_collection_queryables):
        itemtypes_api.get_collection_queryables = _described_queryables(itemtypes_api.get_collection_queryables)
    crs.install()
