"""Our GeoJSON schemas in a ``referencing.Registry``: the cycle-path ``$ref`` resolves offline."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonschema
from jsonschema import validators as js_validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from ..settings import CONFIG_DIR
from .common import read_json

GEOJSON_SCHEMA_DIR = CONFIG_DIR / "schemas" / "geojson"


@lru_cache(maxsize=1)
def geojson_registry() -> Registry:
    """Our own GeoJSON schemas (config/schemas/geojson/), under their geojson.org URLs.

    No retrieval function is given, so a reference we do not hold fails instead of
    reaching the network: validation works offline and always against the same text.
    """
    resources = []
    for file in sorted(GEOJSON_SCHEMA_DIR.glob("*.json")):
        contents = read_json(file)
        resources.append((contents["$id"], Resource.from_contents(contents, default_specification=DRAFT7)))
    return Registry().with_resources(resources)


def json_schema_validator_class(raw: dict[str, Any]) -> type[jsonschema.protocols.Validator]:
    """The draft the document declares; Draft 7 (that of the geojson.org schemas) when it declares none."""
    return js_validators.validator_for(raw, default=jsonschema.Draft7Validator)
