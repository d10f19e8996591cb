"""``repair_openapi``: the OpenAPI document pygeoapi generates, made true and self-contained.

pygeoapi 0.24's ``get_oas`` has defects that make its own server "violate" its document
and that keep offline clients (and schemathesis) from reading it:

- every response and several parameters are ``$ref`` s to schemas.opengis.net or
  raw.githubusercontent.com: unresolvable offline, slow online. They are replaced by
  local components (written here after the OGC API Features 1.0 schemas, with the same
  names);
- ``/conformance`` and ``/collections`` are described with the landing page's schema,
  ``/schema`` with the old "queryables list" shape, and a feature with its properties'
  schema at the top level;
- content types the server really returns are missing (``f=html``, ``f=jsonld``,
  ``f=csv``, ``application/schema+json``…);
- ``vendorSpecificParameters`` announces that any parameter is accepted: we refuse
  unknown parameters (``params.py``), so it goes; the parameters we do accept and
  pygeoapi leaves out (``filter``, ``filter-lang``, ``filter-crs``, ``resulttype``, and
  ``datetime`` on collections with a time extent) come in, with the values the server
  accepts (``crs`` lists the collection's CRSs, ``sortby`` its sortable properties);
- a property filter on a list or object property is declared as a JSON array, while
  the server reads it as text.

Our own resources (``/health``, ``/metrics``) are added. The function only rewrites
the dict; ``server/app.py`` calls it where the document is generated.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from .openapi_components import ANY_JSON_CONTENT, HTML_CONTENT, RESPONSES, SCHEMAS, json_content
from .params import ALLOWED, MAX_LIMIT
from .routing import collections_from_config

OGC_FEATURES = "https://schemas.opengis.net/ogcapi/features/part1/1.0/openapi/ogcapi-features-1.yaml"

_REMOTE_PARAMETERS = {
    f"{OGC_FEATURES}#/components/parameters/featureId": {
        "name": "featureId",
        "in": "path",
        "description": "Identifiant stable de l'entité.",
        "required": True,
        "schema": {"type": "string"},
    },
}
_GLOBAL_PATHS = {"/": ("landing", "LandingPage"), "/openapi": ("openapi", "OpenAPI"),
                 "/conformance": ("conformance", "ConformanceDeclaration"), "/collections": ("collections", "Collections")}


def _remote(ref: Any) -> bool:
    return isinstance(ref, str) and not ref.startswith("#")


def _replace_remote_refs(node: Any) -> Any:
    """Whatever remote ``$ref`` is left (request bodies, tiles): a local or open schema."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if _remote(ref):
            if ref.endswith("exception.yaml"):
                return {"$ref": "#/components/schemas/exception"}
            if ref.endswith("/schemas/link"):
                return {"$ref": "#/components/schemas/link"}
            if "#/components/responses/" in ref:
                name = ref.rsplit("/", 1)[1]
                return {"$ref": f"#/components/responses/{name}"} if name in RESPONSES else {"description": name}
            return {"type": "object"}  # e.g. the CQL2 JSON schema of the POST body
        return {k: _replace_remote_refs(v) for k, v in node.items() if k != "$schema"}
    if isinstance(node, list):
        return [_replace_remote_refs(v) for v in node]
    return node


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _errors(*, not_found: bool, unavailable: bool = False) -> dict[str, Any]:
    responses: dict[str, Any] = {"400": _ref("InvalidParameter")}
    if not_found:
        responses["404"] = _ref("NotFound")
    responses["500"] = _ref("ServerError")
    if unavailable:
        responses["503"] = _ref("ServiceUnavailable")
    return responses


def _property_schemas(item_response: Any) -> dict[str, Any]:
    """The layer's property schemas, from what pygeoapi put (wrongly) as the item schema."""
    try:
        properties = item_response["content"]["application/geo+json"]["schema"]["properties"]
    except (KeyError, TypeError):
        return {}
    return {name: {**schema, "nullable": True} for name, schema in properties.items()}


def _param(name: str, schema: dict[str, Any], description: str, *, explode: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "style": "form", "explode": explode,
            "description": description, "schema": schema}


def _items_parameters(existing: list[Any], info, property_schemas: Mapping[str, Any]) -> list[Any]:
    crs = {"type": "string", "enum": list(info.crs)}
    sortable = [n for n, s in property_schemas.items() if s.get("type") not in ("array", "object")]
    kept: list[Any] = []
    for parameter in existing:
        ref = parameter.get("$ref", "") if isinstance(parameter, dict) else ""
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if ref.endswith("/vendorSpecificParameters") or "sortby" in ref:
            continue
        if ref.endswith("/parameters/crs"):
            kept.append(_param("crs", crs, "Système de coordonnées des géométries renvoyées."))
        elif ref.endswith("/parameters/bbox-crs"):
            kept.append(_param("bbox-crs", crs, "Système de coordonnées de bbox (CRS84 par défaut)."))
        elif name == "f":
            kept.append({**parameter, "schema": {"type": "string", "enum": sorted(info.item_formats), "default": "json"}})
        elif name == "properties" and isinstance(parameter, dict):
            kept.append({**parameter, "schema": {**parameter.get("schema", {}), "minItems": 1}})
        elif name == "limit":
            kept.append({**parameter, "description": (
                f"Nombre maximal d'entités renvoyées (défaut 10). Au-delà de {MAX_LIMIT}, la valeur est ramenée "
                f"à {MAX_LIMIT} (pas d'erreur) ; la réponse porte alors un lien `next`.")})
        elif name in property_schemas and isinstance(parameter, dict):
            kind = property_schemas[name].get("type")
            schema = {"type": "string"} if kind in ("array", "object") else {k: v for k, v in property_schemas[name].items() if k != "nullable"}
            kept.append({**parameter, "schema": schema,
                         "description": f"Ne garder que les entités dont « {name} » vaut cette valeur."})
        else:
            kept.append(parameter)
    sort_values = [v for n in sortable for v in (n, f"-{n}")]
    kept.append(_param("sortby", {"type": "array", "minItems": 1, "items": {"type": "string", "enum": sort_values}},
                       "Tri : propriétés séparées par des virgules, préfixe « - » pour décroissant."))
    kept.append(_param("filter", {"type": "string", "minLength": 1},
                       "Filtre CQL2 dans le langage de filter-lang, par ex. `rang >= 5 AND nom LIKE 'A%'`."))
    kept.append(_param("filter-lang", {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"},
                       "Langage du filtre : cql2-text (défaut) ou cql2-json."))
    kept.append(_param("filter-crs", crs, "Système de coordonnées des géométries du filtre."))
    kept.append(_param("resulttype", {"type": "string", "enum": ["results", "hits"], "default": "results"},
                       "`hits` : seulement le nombre d'entités (numberMatched), sans les entités."))
    if info.temporal:
        kept.append(_param("datetime", {"type": "string"}, "Instant ou intervalle RFC 3339 (`..` pour ouvert)."))
    return kept


def _items_response(property_schemas: Mapping[str, Any], formats) -> dict[str, Any]:
    feature = copy.deepcopy(SCHEMAS["featureGeoJSON"])
    feature["properties"]["properties"] = {"type": "object", "nullable": True, "properties": dict(property_schemas)}
    collection = copy.deepcopy(SCHEMAS["featureCollectionGeoJSON"])
    collection["properties"]["features"] = {"type": "array", "items": feature}
    content: dict[str, Any] = {
        "application/geo+json": {"schema": collection},
        "application/json": {"schema": collection},
        "application/ld+json": ANY_JSON_CONTENT,
        "text/html": HTML_CONTENT,
    }
    if "csv" in formats:
        content["text/csv"] = {"schema": {"type": "string"}}
    item_content = {
        "application/geo+json": {"schema": feature},
        "application/json": {"schema": feature},
        "application/ld+json": ANY_JSON_CONTENT,
        "text/html": HTML_CONTENT,
    }
    return {"items": {"description": "Les entités de la collection (une page).", "content": content},
            "item": {"description": "Une entité.", "content": item_content}}


def _own_paths() -> dict[str, Any]:
    return {
        "/health": {"get": {
            "summary": "État du serveur",
            "description": "Stockage joignable et couches servies lisibles (200), ou non (503).",
            "tags": ["server"], "operationId": "getHealth",
            "responses": {
                "200": {"description": "Tout va bien.", "content": {"application/json": json_content("health")}},
                "503": {"description": "Stockage injoignable ou couche illisible.", "content": {"application/json": json_content("health")}},
            },
        }},
        "/metrics": {"get": {
            "summary": "Métriques Prometheus",
            "description": "Requêtes, erreurs et durées par collection, tous processus confondus (format texte Prometheus).",
            "tags": ["server"], "operationId": "getMetrics",
            "responses": {"200": {"description": "Exposition Prometheus.", "content": {"text/plain": {"schema": {"type": "string"}}}}},
        }},
    }


def _reuse_paths(collections: Mapping[str, Any]) -> dict[str, Any]:
    """The resources for reusers that pygeoapi does not know: downloads, DCAT, usage figures."""
    from ..downloads.formats import FORMATS  # the one table of download formats

    binary = {"schema": {"type": "string", "format": "binary"}}
    paths: dict[str, Any] = {
        "/catalogue.jsonld": {"get": {
            "summary": "Catalogue DCAT-AP (JSON-LD)",
            "description": "Les couches publiées, leurs licences, distributions et téléchargements, "
                           "dans la forme que moissonne data.gouv.fr.",
            "tags": ["server"], "operationId": "getCatalogue",
            "responses": {"200": {"description": "Le catalogue.", "content": {"application/ld+json": ANY_JSON_CONTENT}},
                          **_errors(not_found=False)},
        }},
        "/stats": {"get": {
            "summary": "Fréquentation",
            "description": "Requêtes à l'API et téléchargements par jour, couche et format (aucune donnée personnelle).",
            "tags": ["server"], "operationId": "getStats",
            "parameters": [
                _param("f", {"type": "string", "enum": ["json", "html"]}, "Format de la réponse."),
                _param("lang", {"type": "string", "enum": ["fr", "en"]}, "Langue de la page."),
                _param("days", {"type": "integer", "minimum": 1, "maximum": 366}, "Nombre de jours (défaut 90)."),
                _param("layer", {"type": "string", "enum": sorted(collections)}, "Une seule couche."),
            ],
            "responses": {"200": {"description": "Les chiffres.", "content": {
                "application/json": ANY_JSON_CONTENT, "text/html": HTML_CONTENT}},
                **_errors(not_found=False, unavailable=True)},
        }},
    }
    csv_parameters = [
        _param("sep", {"type": "string", "enum": [",", ";"]}, "Séparateur (« ; » : profil tableur français)."),
        _param("geometry", {"type": "string", "enum": ["latlon", "wkt"]}, "Géométrie en colonnes lon/lat ou en WKT."),
    ]
    for cid in collections:
        for fmt in FORMATS.values():
            paths[f"/collections/{cid}/download.{fmt.key}"] = {"get": {
                "summary": f"Télécharger toute la couche {cid} ({fmt.label})",
                "tags": [cid], "operationId": f"download_{cid}_{fmt.key}".replace("-", "_"),
                "parameters": csv_parameters if fmt.parameters else [],
                "responses": {"200": {"description": "La couche entière, avec sa licence.",
                                      "content": {fmt.media_type.split(";")[0]:
                                                  ANY_JSON_CONTENT if fmt.media_type.endswith("json") else binary}},
                              **_errors(not_found=True, unavailable=True)},
            }}
    return paths


def repair_openapi(document: dict[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """Return a repaired copy of pygeoapi's OpenAPI ``document`` for ``config``."""
    doc = copy.deepcopy(document)
    collections = collections_from_config(config)
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {}).update(copy.deepcopy(SCHEMAS))
    components.setdefault("responses", {}).update(copy.deepcopy(RESPONSES))
    parameters = components.setdefault("parameters", {})
    parameters.pop("vendorSpecificParameters", None)
    parameters["featureId"] = _REMOTE_PARAMETERS[f"{OGC_FEATURES}#/components/parameters/featureId"]

    paths: dict[str, Any] = doc.setdefault("paths", {})
    for path, operations in paths.items():
        for method, operation in list(operations.items()):
            if not isinstance(operation, dict):
                continue
            operation["parameters"] = [
                {"$ref": "#/components/parameters/featureId"} if isinstance(p, dict) and p.get("$ref") in _REMOTE_PARAMETERS else p
                for p in operation.get("parameters", [])
                if not (isinstance(p, dict) and str(p.get("$ref", "")).endswith("/vendorSpecificParameters"))
            ]
            if method != "get":
                continue
            if path in _GLOBAL_PATHS:
                _, response = _GLOBAL_PATHS[path]
                operation["responses"] = {"200": _ref(response), **_errors(not_found=False)}
                continue
            parts = path.strip("/").split("/")
            if len(parts) < 2 or parts[0] != "collections" or parts[1] not in collections:
                continue
            info = collections[parts[1]]
            tail = "/".join(parts[2:])
            if tail == "":
                operation["responses"] = {"200": _ref("Collection"), **_errors(not_found=True)}
            elif tail in ("queryables", "schema"):
                operation["responses"] = {"200": _ref("JSONSchema"), **_errors(not_found=True, unavailable=True)}
            elif tail == "items":
                item_op = paths.get(f"{path}/{{featureId}}", {}).get("get", {})
                property_schemas = _property_schemas((item_op.get("responses") or {}).get("200"))
                responses = _items_response(property_schemas, info.item_formats)
                operation["parameters"] = _items_parameters(operation["parameters"], info, property_schemas)
                operation["responses"] = {"200": responses["items"], **_errors(not_found=True, unavailable=True)}
                if item_op:
                    item_op["responses"] = {"200": responses["item"], **_errors(not_found=True, unavailable=True)}
                    item_op["parameters"] = [
                        _param("crs", {"type": "string", "enum": list(info.crs)}, "Système de coordonnées de la géométrie renvoyée.")
                        if isinstance(p, dict) and str(p.get("$ref", "")).endswith("/parameters/crs") else p
                        for p in item_op.get("parameters", [])
                    ]
    paths.update(_own_paths())
    paths.update(_reuse_paths(collections))
    return _replace_remote_refs(doc)


def parameter_drift(doc: dict[str, Any], config: Mapping[str, Any]) -> list[str]:
    """Query parameters the document offers but ``params.ALLOWED`` would refuse (must be
    empty: otherwise the server refuses what its own document proposes)."""
    collections = collections_from_config(config)
    components = doc.get("components", {}).get("parameters", {})
    drift = []
    for path, operations in doc.get("paths", {}).items():
        get = operations.get("get") if isinstance(operations, dict) else None
        kind = _kind_of(path, collections)
        if not get or kind not in ALLOWED:
            continue
        for parameter in get.get("parameters", []):
            if "$ref" in parameter:
                parameter = components.get(parameter["$ref"].rsplit("/", 1)[1], {})
            name = parameter.get("name")
            if parameter.get("in") != "query" or name in ALLOWED[kind]:
                continue
            if kind == "items" and "Ne garder que les entités" in parameter.get("description", ""):
                continue  # a property filter: allowed from the layer's field_types
            drift.append(f"{path} {name}")
    return drift


def _kind_of(path: str, collections) -> str | None:
    if path in _GLOBAL_PATHS:
        return _GLOBAL_PATHS[path][0]
    parts = path.strip("/").split("/")
    if len(parts) < 2 or parts[0] != "collections" or parts[1] not in collections:
        return None
    tail = parts[2:]
    if not tail:
        return "collection"
    if tail == ["items"]:
        return "items"
    if len(tail) == 2 and tail[0] == "items":
        return "item"
    return tail[0] if tail[0] in ("queryables", "schema") else None
