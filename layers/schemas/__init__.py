"""Load a national schema (Table Schema or JSON Schema) into a ``NationalSchema``.

The published files have defects (see config/schemas/ATTRIBUTION.md). We never edit the
shipped copies: each defect is detected here, corrected in memory, and described by one
French sentence in ``NationalSchema.defects`` so that reports and metadata show it. A
fixer only fires when its defect is present, so a corrected upstream version yields no note.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..catalogue import SchemaRef
from ..errors import SchemaError
from ..schema_model import NationalSchema
from .common import read_json
from .json_schema import load_json_schema
from .registry import GEOJSON_SCHEMA_DIR, geojson_registry, json_schema_validator_class
from .table_schema import load_table_schema

__all__ = ["load_schema", "geojson_registry", "json_schema_validator_class", "GEOJSON_SCHEMA_DIR"]


def load_schema(ref: SchemaRef) -> NationalSchema:
    """The schema ``ref`` points to, corrected; cached until the file changes."""
    path = Path(ref.path)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise SchemaError("fichier de schéma introuvable", file=path) from None
    return _load(str(path), ref.kind, ref.name, ref.version, mtime)


@lru_cache(maxsize=32)
def _load(path: str, kind: str, name: str, version: str, mtime: int) -> NationalSchema:
    file = Path(path)
    document = read_json(file)
    if kind == "table-schema":
        return load_table_schema(document, file, name, version)
    if kind == "json-schema":
        return load_json_schema(document, file, name, version)
    raise SchemaError(f"type de schéma inconnu « {kind} » (attendu table-schema ou json-schema)", file=file)
