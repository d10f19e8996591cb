"""Match the columns of a source file to the fields of its national schema.

Real files rename, misspell, re-case and truncate columns. Matching runs in passes of
decreasing certainty — exact name, same name up to case and spaces, the catalogue's
``mapping``, DBF's 10-character truncation, then a close spelling — so that a sure
match always claims its field before a guess can. Every match that is not exact is
reported as a warning naming both names, so the data team can fix the file.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Callable

from .report import Problem
from .schema_model import NationalSchema

DBF_NAME_LENGTH = 10  # dBase III field names: at most 10 characters
FUZZY_RATIO = 0.85


@dataclass
class ColumnMapping:
    rename: dict[str, str]  # source column -> schema field (exact matches included)
    unknown: list[str]  # source columns matching no field (kept as extra columns)
    missing: list[str]  # schema fields with no source column, in schema order
    problems: list[Problem] = field(default_factory=list)  # warnings, one per non-exact match or conflict


def normalise_name(name: str) -> str:
    """Case- and space-insensitive key: ``" Long  Coor1 "`` and ``long_coor1`` compare equal."""
    return re.sub(r"[\s_]+", "_", name.strip()).casefold()


# A pass proposes a field for a column, or None.
Matcher = Callable[[str], str | None]


def map_columns(
    columns: list[str], schema: NationalSchema, mapping: dict[str, str] | None = None
) -> ColumnMapping:
    fields = schema.names
    by_key: dict[str, list[str]] = {}
    for name in fields:
        by_key.setdefault(normalise_name(name), []).append(name)
    catalogue = {normalise_name(src): dst for src, dst in (mapping or {}).items()}

    def exact(column: str) -> str | None:
        return column if column in fields else None

    def loose(column: str) -> str | None:
        found = by_key.get(normalise_name(column), [])
        return found[0] if len(found) == 1 else None

    def from_catalogue(column: str) -> str | None:
        return catalogue.get(normalise_name(column))

    def truncated(column: str) -> str | None:
        key = column.strip().casefold()
        if len(key) != DBF_NAME_LENGTH:
            return None
        found = [f for f in fields if len(f) > DBF_NAME_LENGTH and f.casefold().startswith(key)]
        return found[0] if len(found) == 1 else None

    def fuzzy(column: str) -> str | None:
        key = normalise_name(column)
        found = [f for f in fields
                 if difflib.SequenceMatcher(None, key, normalise_name(f)).ratio() >= FUZZY_RATIO]
        return found[0] if len(found) == 1 else None

    passes: list[tuple[Matcher, str | None]] = [
        (exact, None),
        (loose, "même nom à la casse ou aux espaces près"),
        (from_catalogue, "correspondance déclarée dans le catalogue"),
        (truncated, f"nom tronqué à {DBF_NAME_LENGTH} caractères par le format DBF (Shapefile)"),
        (fuzzy, "nom proche, rapprochement approximatif à vérifier"),
    ]

    rename: dict[str, str] = {}
    claimed: dict[str, str] = {}  # field -> source column
    rejected: set[str] = set()  # columns already refused because their field was taken
    problems: list[Problem] = []
    for matcher, why in passes:
        for column in columns:
            if column in rename or column in rejected:
                continue
            target = matcher(column)
            if target is None:
                continue
            if target not in fields:
                problems.append(Problem(
                    "column-mapping",
                    f"le catalogue associe la colonne « {column} » au champ « {target} », absent du schéma "
                    f"{schema.name} {schema.version} : correspondance ignorée",
                    field=target, value=column, severity="warning",
                ))
                rejected.add(column)
                continue
            if target in claimed:
                problems.append(Problem(
                    "column-conflict",
                    f"la colonne « {column} » correspondrait au champ « {target} » ({why or 'même nom'}), déjà "
                    f"fourni par la colonne « {claimed[target]} » : elle est gardée comme colonne supplémentaire",
                    field=target, value=column, severity="warning",
                ))
                rejected.add(column)
                continue
            rename[column] = target
            claimed[target] = column
            if why is not None:
                problems.append(Problem(
                    "column-renamed",
                    f"colonne « {column} » lue comme le champ « {target} » ({why})",
                    field=target, value=column, severity="warning",
                ))

    unknown = [c for c in columns if c not in rename]
    missing = [f for f in fields if f not in claimed]
    return ColumnMapping(rename=rename, unknown=unknown, missing=missing, problems=problems)
