"""Table Schema descriptors into ``FieldSpec``s, with the published defects corrected."""

from __future__ import annotations

import copy
import csv
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import SchemaError
from ..schema_model import FieldSpec, NationalSchema
from .common import TABLE_TYPES, Fixer, compile_pattern, names, number, version_note

# Natural ranges of coordinate fields, to catch swapped or wrong declared ranges.
_COORDINATE_RANGES = {"latitude": (-90.0, 90.0), "lat": (-90.0, 90.0),
                      "longitude": (-180.0, 180.0), "lon": (-180.0, 180.0), "long": (-180.0, 180.0)}
_NATIONAL_PHONE = r"^0[1-9]\d{8}$"


def load_table_schema(document: dict[str, Any], file: Path, name: str, version: str) -> NationalSchema:
    if not isinstance(document.get("fields"), list) or not document["fields"]:
        raise SchemaError("ce n'est pas un Table Schema : liste « fields » absente ou vide", file=file)
    raw = copy.deepcopy(document)
    for index, entry in enumerate(raw["fields"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise SchemaError(f"fields[{index}] : champ sans nom", file=file)
    defects = version_note(raw.get("version"), version)
    for fixer in _TABLE_FIXERS:
        defects.extend(fixer(raw, file))

    fields = [_table_field(entry, file) for entry in raw["fields"]]
    field_names = [spec.name for spec in fields]
    if len(set(field_names)) != len(field_names):
        twice = sorted({n for n in field_names if field_names.count(n) > 1})
        raise SchemaError(f"champ(s) déclaré(s) deux fois : {', '.join(twice)}", file=file)

    primary_key = raw.get("primaryKey") or []
    primary_key = [primary_key] if isinstance(primary_key, str) else list(primary_key)
    unknown = [key for key in primary_key if key not in field_names]
    if unknown:
        raise SchemaError(f"clé primaire sur un champ inconnu : {', '.join(unknown)}", file=file)
    if len(primary_key) == 1:
        # A one-field primary key is a unique, required identifier (Table Schema).
        fields = [replace(s, unique=True, required=True) if s.name == primary_key[0] else s for s in fields]

    missing_values = raw.get("missingValues", [""])
    return NationalSchema(
        name=name, version=version, kind="table-schema", fields=fields, raw=raw, defects=defects,
        primary_key=primary_key, missing_values=tuple(str(v) for v in missing_values),
    )


def _table_field(entry: dict[str, Any], file: Path) -> FieldSpec:
    name = entry["name"]
    kind = entry.get("type", "string")  # Table Schema's default type
    if kind not in TABLE_TYPES:
        raise SchemaError(f"type « {kind} » inconnu de Table Schema", file=file, field=name)
    constraints = entry.get("constraints") or {}
    if not isinstance(constraints, dict):
        raise SchemaError("« constraints » doit être un objet", file=file, field=name)
    enum = constraints.get("enum")
    if enum is not None and not isinstance(enum, list):
        raise SchemaError("« enum » doit être une liste", file=file, field=name)
    item = entry.get("arrayItem") or {}
    item_enum = (item.get("constraints") or {}).get("enum")
    numeric = kind in ("number", "integer")  # date bounds are not used by our schemas
    extra: dict[str, Any] = {}
    if "trueValues" in entry:
        extra["true_values"] = tuple(str(v) for v in entry["trueValues"])
    if "falseValues" in entry:
        extra["false_values"] = tuple(str(v) for v in entry["falseValues"])
    return FieldSpec(
        name=name, type=kind, format=entry.get("format"), title=entry.get("title"),
        description=entry.get("description") or None,
        required=bool(constraints.get("required", False)), unique=bool(constraints.get("unique", False)),
        pattern=compile_pattern(constraints.get("pattern"), file, name),
        enum=tuple(enum) if enum is not None else None,
        minimum=number(constraints.get("minimum"), file, name, "minimum") if numeric else None,
        maximum=number(constraints.get("maximum"), file, name, "maximum") if numeric else None,
        item_type=item.get("type") if item else None,
        item_enum=tuple(item_enum) if item_enum else None,
        min_length=constraints.get("minLength"), max_length=constraints.get("maxLength"),
        **extra,
    )


def _fix_misspelt_constraints(raw: dict[str, Any], file: Path) -> list[str]:
    """acceslibre: ``contraints`` is ignored by every validator; read it as ``constraints``."""
    fixed = []
    for entry in raw["fields"]:
        if isinstance(entry.get("contraints"), dict):
            entry["constraints"] = {**entry.pop("contraints"), **(entry.get("constraints") or {})}
            fixed.append(entry["name"])
    if not fixed:
        return []
    return [f"champs {names(fixed)} : contraintes rangées sous la clé mal orthographiée « contraints », "
            f"que les validateurs ignorent ; elles sont lues comme « constraints »."]


def _fix_coordinate_ranges(raw: dict[str, Any], file: Path) -> list[str]:
    """acceslibre: latitude and longitude carry each other's range; use the natural ones."""
    notes = []
    for entry in raw["fields"]:
        expected = _COORDINATE_RANGES.get(entry["name"].lower())
        constraints = entry.get("constraints") or {}
        if expected is None or entry.get("type") != "number" or not ({"minimum", "maximum"} & constraints.keys()):
            continue
        declared = (constraints.get("minimum"), constraints.get("maximum"))
        if declared != expected:
            constraints["minimum"], constraints["maximum"] = expected
            entry["constraints"] = constraints
            swapped = declared == ((-180, 180) if expected[1] == 90 else (-90, 90))
            why = "inversée avec celle de l'autre coordonnée" if swapped else "hors de la plage naturelle"
            notes.append(
                f"champ « {entry['name']} » : plage déclarée {declared[0]}..{declared[1]} ({why}) ; "
                f"corrigée en {expected[0]:g}..{expected[1]:g}."
            )
    return notes


def _fix_string_with_item_enum(raw: dict[str, Any], file: Path) -> list[str]:
    """acceslibre ``activite``: a string field cannot have items; its list is the allowed values."""
    notes = []
    for entry in raw["fields"]:
        item = entry.get("arrayItem")
        if entry.get("type", "string") == "string" and isinstance(item, dict):
            values = item.get("enum") or (item.get("constraints") or {}).get("enum")
            if values:
                del entry["arrayItem"]
                entry.setdefault("constraints", {})["enum"] = values
                notes.append(
                    f"champ « {entry['name']} » : de type texte mais décrit par « arrayItem.enum » "
                    f"(réservé aux listes) ; lu comme une valeur unique choisie parmi ces {len(values)} valeurs."
                )
    return notes


def _fix_array_item_enum(raw: dict[str, Any], file: Path) -> list[str]:
    """acceslibre arrays: ``arrayItem.enum`` belongs in ``arrayItem.constraints.enum``."""
    fixed = []
    for entry in raw["fields"]:
        item = entry.get("arrayItem")
        if entry.get("type") == "array" and isinstance(item, dict) and "enum" in item:
            item.setdefault("constraints", {})["enum"] = item.pop("enum")
            fixed.append(entry["name"])
    if not fixed:
        return []
    return [f"champs {names(fixed)} : valeurs autorisées des éléments de liste rangées sous "
            f"« arrayItem.enum » au lieu de « arrayItem.constraints.enum », donc ignorées ; elles sont "
            f"appliquées à chaque élément."]


def _fix_item_enum_against_example(raw: dict[str, Any], file: Path) -> list[str]:
    """acceslibre santé: the example and description use values the item list lacks.

    ``accueil_soignant_experience`` lists visuel, auditif, moteur, mental, psychique,
    cognitif in its description and example, but only ``mental_psychique`` in its
    enum; the official example file uses « psychique ». Both spellings are accepted.
    """
    notes = []
    for entry in raw["fields"]:
        allowed = ((entry.get("arrayItem") or {}).get("constraints") or {}).get("enum")
        if entry.get("type") != "array" or not allowed or not isinstance(entry.get("example"), str):
            continue
        try:
            example = json.loads(entry["example"])
        except ValueError:
            continue
        extra = [v for v in example if isinstance(v, str) and v not in allowed] if isinstance(example, list) else []
        if extra:
            entry["arrayItem"]["constraints"]["enum"] = list(allowed) + extra
            notes.append(
                f"champ « {entry['name']} » : l'exemple et la description du schéma utilisent "
                f"{names(extra)}, absentes de la liste des valeurs autorisées ({', '.join(allowed)}) ; "
                f"elles sont acceptées aussi."
            )
    return notes


def _fix_phone_patterns(raw: dict[str, Any], file: Path) -> list[str]:
    """DAE 1.0.7: the phone pattern dropped national numbers (0XXXXXXXXX), still the common form."""
    fixed = []
    for entry in raw["fields"]:
        pattern = (entry.get("constraints") or {}).get("pattern")
        if not pattern or r"\+33" not in pattern:
            continue
        try:
            rx = re.compile(pattern)
        except re.error:
            continue  # reported by _table_field
        if rx.fullmatch("+33102030405") and not rx.fullmatch("0102030405"):
            entry["constraints"]["pattern"] = f"(?:{pattern})|(?:{_NATIONAL_PHONE})"
            fixed.append(entry["name"])
    if not fixed:
        return []
    return [f"champs {names(fixed)} : le motif de la version 1.0.7 n'accepte plus les numéros nationaux "
            f"commençant par 0 (0XXXXXXXXX), encore très publiés ; ils sont acceptés en plus du format "
            f"international (+33…)."]


def _note_geopoint_whitespace(raw: dict[str, Any], file: Path) -> list[str]:
    """stationnement cyclable: the official example ends a geopoint cell with a newline.

    Validation always tolerates whitespace around a geopoint (as frictionless, which
    parses it as JSON); this note says so when a shipped example relies on it.
    """
    notes = []
    for name in [e["name"] for e in raw["fields"] if e.get("type") == "geopoint"]:
        for example in sorted(file.parent.glob("exemple*.csv")):
            try:
                with example.open(encoding="utf-8-sig", newline="") as handle:
                    cells = [row.get(name) or "" for row in csv.DictReader(handle)]
            except (OSError, UnicodeDecodeError, csv.Error):
                continue
            if any(cell != cell.strip() for cell in cells):
                notes.append(f"champ « {name} » : l'exemple officiel {example.name} contient un géopoint entouré "
                             f"d'espaces ou d'un saut de ligne ; ces blancs autour d'un géopoint sont tolérés.")
    return notes


def _note_custom_checks(raw: dict[str, Any], file: Path) -> list[str]:
    checks = raw.get("custom_checks") or []
    if not checks:
        return []
    described = ", ".join(
        f"{c.get('name')} ({(c.get('params') or {}).get('column', '?')})" for c in checks if isinstance(c, dict)
    )
    return [f"contrôles personnalisés propres à Validata non appliqués : {described}."]


_TABLE_FIXERS: tuple[Fixer, ...] = (
    _fix_misspelt_constraints,
    _fix_coordinate_ranges,  # after the key fix, which brings the ranges into view
    _fix_string_with_item_enum,
    _fix_array_item_enum,
    _fix_item_enum_against_example,  # after the enum is in place
    _fix_phone_patterns,
    _note_geopoint_whitespace,
    _note_custom_checks,
)
