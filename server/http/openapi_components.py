"""Local OpenAPI components, written after the OGC API Features 1.0 (Part 1) schemas with
the same names, so that the document ``openapi.py`` repairs needs nothing online."""

from __future__ import annotations

from typing import Any

OPENAPI_TYPE = "application/vnd.oai.openapi+json;version=3.0"

_LINK = {
    "type": "object",
    "required": ["href"],
    "properties": {
        "href": {"type": "string"},
        "rel": {"type": "string"},
        "type": {"type": "string"},
        "hreflang": {"type": "string"},
        "title": {"type": "string"},
        "length": {"type": "integer"},
    },
}
_LINKS = {"type": "array", "items": {"$ref": "#/components/schemas/link"}}
SCHEMAS: dict[str, Any] = {
    "link": _LINK,
    "exception": {
        "type": "object",
        "required": ["code"],
        "properties": {
            "code": {"type": "string"},
            "description": {"type": "string"},
            "type": {"type": "string"},
            "parameter": {"type": "string", "description": "le paramètre de requête en cause"},
        },
    },
    "landingPage": {
        "type": "object",
        "required": ["links"],
        "properties": {"title": {"type": "string"}, "description": {"type": "string"}, "links": _LINKS},
    },
    "confClasses": {
        "type": "object",
        "required": ["conformsTo"],
        "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
    },
    "extent": {
        "type": "object",
        "properties": {
            "spatial": {
                "type": "object",
                "properties": {
                    "bbox": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
                    },
                    "crs": {"type": "string"},
                },
            },
            "temporal": {"type": "object"},
        },
    },
    "collectionInfo": {
        "type": "object",
        "required": ["id", "links"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "links": _LINKS,
            "extent": {"$ref": "#/components/schemas/extent"},
            "itemType": {"type": "string"},
            "crs": {"type": "array", "items": {"type": "string"}},
            "storageCrs": {"type": "string"},
        },
    },
    "collections": {
        "type": "object",
        "required": ["links", "collections"],
        "properties": {
            "links": _LINKS,
            "collections": {"type": "array", "items": {"$ref": "#/components/schemas/collectionInfo"}},
        },
    },
    "geometryGeoJSON": {
        "type": "object",
        "nullable": True,
        "required": ["type"],
        "properties": {"type": {"type": "string"}},
    },
    "featureGeoJSON": {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "geometry": {"$ref": "#/components/schemas/geometryGeoJSON"},
            "properties": {"type": "object", "nullable": True},
            "links": _LINKS,
        },
    },
    "featureCollectionGeoJSON": {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"$ref": "#/components/schemas/featureGeoJSON"}},
            "links": _LINKS,
            "timeStamp": {"type": "string", "format": "date-time"},
            "numberMatched": {"type": "integer", "minimum": 0},
            "numberReturned": {"type": "integer", "minimum": 0},
        },
    },
    "jsonSchema": {"type": "object", "properties": {"type": {"type": "string"}, "properties": {"type": "object"}}},
    "health": {
        "type": "object",
        "required": ["status", "store", "layers"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded", "error"]},
            "store": {
                "type": "object",
                "required": ["reachable"],
                "properties": {"reachable": {"type": "boolean"}, "kind": {"type": "string"}},
            },
            "layers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "readable"],
                    "properties": {
                        "id": {"type": "string"},
                        "readable": {"type": "boolean"},
                        "published": {"type": "boolean"},
                        "published_at": {"type": "string", "nullable": True},
                        "features": {"type": "integer", "nullable": True},
                    },
                },
            },
            "time": {"type": "string"},
            "message": {"type": "string"},
        },
    },
}


def json_content(schema_name: str) -> dict[str, Any]:
    return {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}


HTML_CONTENT = {"schema": {"type": "string"}}
ANY_JSON_CONTENT = {"schema": {"type": "object"}}
EXCEPTION_CONTENT = {
    "application/json": json_content("exception"),
    "application/ld+json": json_content("exception"),  # pygeoapi's errors for f=jsonld
    "text/html": HTML_CONTENT,  # pygeoapi's error page for f=html
}
RESPONSES: dict[str, Any] = {
    "InvalidParameter": {
        "description": "Paramètre de requête inconnu, répété ou mal formé (le corps le nomme dans `parameter`).",
        "content": EXCEPTION_CONTENT,
    },
    "NotFound": {"description": "Ressource inexistante (collection ou entité inconnue).", "content": EXCEPTION_CONTENT},
    "ServerError": {"description": "Erreur interne (le détail n'est que dans le journal du serveur).", "content": {"application/json": json_content("exception")}},
    "ServiceUnavailable": {"description": "Stockage momentanément indisponible.", "content": {"application/json": json_content("exception")}},
    "LandingPage": {
        "description": "Page d'accueil : liens vers la définition de l'API, la conformité et les collections.",
        "content": {"application/json": json_content("landingPage"), "application/ld+json": ANY_JSON_CONTENT, "text/html": HTML_CONTENT},
    },
    "ConformanceDeclaration": {
        "description": "Classes de conformité déclarées par le serveur.",
        "content": {"application/json": json_content("confClasses"), "application/ld+json": json_content("confClasses"), "text/html": HTML_CONTENT},
    },
    "Collections": {
        "description": "Les collections servies.",
        "content": {"application/json": json_content("collections"), "application/ld+json": ANY_JSON_CONTENT, "text/html": HTML_CONTENT},
    },
    "Collection": {
        "description": "Une collection.",
        "content": {"application/json": json_content("collectionInfo"), "application/ld+json": ANY_JSON_CONTENT, "text/html": HTML_CONTENT},
    },
    "OpenAPI": {
        "description": "Ce document.",
        "content": {OPENAPI_TYPE: ANY_JSON_CONTENT, "text/html": HTML_CONTENT},
    },
    "JSONSchema": {
        "description": "Schéma JSON (propriétés interrogeables ou schéma des entités).",
        "content": {"application/schema+json": json_content("jsonSchema"), "text/html": HTML_CONTENT},
    },
}
