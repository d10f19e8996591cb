"""What the Table Schema and JSON Schema loaders share: reading, checks, wording."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

from ..errors import SchemaError

TABLE_TYPES = frozenset(
    {"string", "number", "integer", "boolean", "object", "array", "date", "time", "datetime",
     "year", "yearmonth", "duration", "geopoint", "geojson", "any"}
)

# A fixer corrects one known defect in the (copied) descriptor and returns French notes.
Fixer = Callable[[dict[str, Any], Path], list[str]]


def read_json(file: Path) -> dict[str, Any]:
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SchemaError(f"fichier de schéma illisible : {exc.strerror}", file=file) from None
    except UnicodeDecodeError:
        raise SchemaError("le fichier de schéma doit être encodé en UTF-8", file=file) from None
    except json.JSONDecodeError as exc:
        raise SchemaError(f"JSON invalide : {exc.msg} (colonne {exc.colno})", file=file, line=exc.lineno) from None
    if not isinstance(document, dict):
        raise SchemaError("le schéma doit être un objet JSON", file=file)
    return document


def version_note(declared: Any, version: str) -> list[str]:
    if declared is not None and str(declared) != version:
        return [f"le fichier se déclare en version {declared}, le catalogue en version {version} ; "
                f"la version du catalogue est retenue."]
    return []


def number(value: Any, file: Path, field: str, key: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SchemaError(f"contrainte « {key} » non numérique : {value!r}", file=file, field=field) from None


def compile_pattern(pattern: Any, file: Path, field: str) -> str | None:
    if pattern is None:
        return None
    try:
        re.compile(pattern)
    except (re.error, TypeError) as exc:
        raise SchemaError(f"expression régulière invalide « {pattern} » : {exc}", file=file, field=field) from None
    return pattern


def names(fields: list[str]) -> str:
    return ", ".join(f"« {n} »" for n in fields)
