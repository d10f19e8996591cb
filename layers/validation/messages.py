"""French messages for validation problems: what is wrong, and how to write it right."""

from __future__ import annotations

import difflib
import re
from typing import Any, Iterable

from ..report import Problem

MAX_LISTED = 12  # enums beyond this (acceslibre ``activite``: 395 values) are summarised
VALUE_LIMIT = 120

TYPE_LABELS = {
    "string": "un texte", "number": "un nombre", "integer": "un nombre entier", "boolean": "un booléen",
    "date": "une date AAAA-MM-JJ", "datetime": "une date et heure AAAA-MM-JJTHH:MM:SS",
    "time": "une heure HH:MM:SS", "year": "une année AAAA", "yearmonth": "un mois AAAA-MM",
    "duration": "une durée ISO 8601 (P…)", "array": "une liste JSON", "object": "un objet JSON",
    "geopoint": "un point", "geojson": "une géométrie GeoJSON", "null": "une valeur nulle",
}


def short(value: Any, limit: int = VALUE_LIMIT) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quote(value: Any) -> str:
    return f"« {short(value, 60)} »"


def listing(values: Iterable[Any]) -> str:
    values = [str(v) for v in values]
    if len(values) <= MAX_LISTED:
        return ", ".join(values)
    return ", ".join(values[:MAX_LISTED]) + f", … ({len(values)} valeurs autorisées)"


def suggestion(value: str, allowed: Iterable[Any]) -> str | None:
    """The allowed value the data team most likely meant (accents, case, spaces, typo)."""
    allowed = [str(v) for v in allowed]
    folded = {_fold(v): v for v in allowed}
    if _fold(value) in folded:
        return folded[_fold(value)]
    close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.8)
    return close[0] if close else None


def _fold(text: str) -> str:
    table = str.maketrans("àâäéèêëîïôöùûüçœ", "aaaeeeeiioouuuco")
    return re.sub(r"\s+", " ", text.strip().casefold().translate(table))


def not_allowed(value: str, allowed: Iterable[Any], *, item: bool = False) -> str:
    allowed = list(allowed)
    what = "pour un élément de la liste " if item else ""
    message = f"{quote(value)} n'est pas une valeur autorisée {what}({listing(allowed)})"
    hint = suggestion(value, allowed)
    return message + (f" ; vouliez-vous dire « {hint} » ?" if hint is not None else "")


def problem(rule: str, message: str, row: Any, field: str | None, value: Any = None) -> Problem:
    return Problem(rule, message, None if row is None else int(row), field, short(value))


def missing_column(field: str) -> Problem:
    return Problem("missing-column", f"colonne obligatoire « {field} » absente du fichier", None, field)


REQUIRED = "valeur obligatoire manquante"


def pattern_mismatch(value: str, pattern: str) -> str:
    if value != value.strip():
        return f"{quote(value)} contient des espaces en trop au début ou à la fin"
    return f"{quote(value)} ne respecte pas le format attendu (motif : {pattern})"


def below(value: str, bound: float) -> str:
    return f"{quote(value)} est inférieur au minimum autorisé ({bound:g})"


def above(value: str, bound: float) -> str:
    return f"{quote(value)} est supérieur au maximum autorisé ({bound:g})"


def too_short(value: str, bound: int) -> str:
    return f"{quote(value)} est trop court (au moins {bound} caractère(s) ou élément(s))"


def too_long(value: str, bound: int) -> str:
    return f"{quote(value)} est trop long (au plus {bound} caractère(s) ou élément(s))"


def duplicate(value: str, first_row: int | None) -> str:
    where = f" (déjà ligne {first_row})" if first_row is not None else ""
    return f"{quote(value)} apparaît plusieurs fois alors que la valeur doit être unique{where}"
