"""Typed values from the vocabularies communes really use — column operations only.

Booleans (``oui/non``, ``t/f``, ``true/false``, ``1/0``, ``VRAI/FAUX``), numbers with
decimal commas or zero padding, integers written as floats (``6.0``), ISO dates, and
multi-values written ``a|b``, ``{a,b,"c d"}`` (PostgreSQL arrays), ``["a","b"]`` (JSON)
or ``a:b``. Parsing of multi-values is done once per distinct value, then mapped.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

TRUE_WORDS = frozenset({"oui", "o", "t", "true", "vrai", "v", "1", "yes", "y", "x"})
FALSE_WORDS = frozenset({"non", "n", "f", "false", "faux", "0", "no"})


def map_unique(series: pd.Series, function, dtype: object = object) -> pd.Series:
    """Apply ``function`` once per distinct non-missing value, then spread the results.

    Municipal columns repeat a small vocabulary (dates of checks, opening days, operator
    names): working on the distinct values keeps Python-level parsing off the per-row path.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    results = np.empty(len(uniques) + 1, dtype=object)
    results[:-1] = [function(value) for value in uniques]
    results[-1] = None  # code -1 = missing
    out = pd.Series(results[codes], index=series.index, dtype=object)
    return out if dtype is object else out.astype(dtype)


def as_text(series: pd.Series) -> pd.Series:
    """Strings stripped of surrounding space; empty → NA. Native numbers become their text."""
    if series.dtype == bool or pd.api.types.is_bool_dtype(series.dtype):
        return series.map({True: "true", False: "false"}).astype("string")
    if pd.api.types.is_float_dtype(series.dtype):
        # 6.0 → "6" (ids and codes stored as floats by spreadsheets and DBF writers)
        text = series.map(lambda v: None if pd.isna(v) else (str(int(v)) if float(v).is_integer() else repr(float(v))))
        return text.astype("string")
    text = series.astype("string").str.strip()
    return text.mask(text == "")


def to_boolean(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("boolean")
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.map(lambda v: pd.NA if pd.isna(v) else bool(v)).astype("boolean")
    text = as_text(series).str.lower()
    out = pd.Series(pd.NA, index=series.index, dtype="boolean")
    out[text.isin(TRUE_WORDS).fillna(False).to_numpy(bool)] = True
    out[text.isin(FALSE_WORDS).fillna(False).to_numpy(bool)] = False
    return out


def to_number(series: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("float64")
    text = as_text(series).str.replace(r"[\s\u00a0]", "", regex=True).str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce").astype("float64")


def to_integer(series: pd.Series) -> pd.Series:
    numbers = to_number(series)
    whole = numbers.where(np.isclose(numbers.fillna(0.5) % 1, 0))
    return whole.round().astype("Int64")


def _iso_date(text: str) -> str | None:
    text = str(text).strip()[:10]
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).strftime("%Y-%m-%d")
        except ValueError:
            continue
    return None


def to_date(series: pd.Series) -> pd.Series:
    """ISO ``YYYY-MM-DD`` text (also from ``DD/MM/YYYY`` and datetimes); unparsable → NA."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.dt.strftime("%Y-%m-%d").astype("string")
    return map_unique(as_text(series), _iso_date, "string")


_PG_ARRAY = re.compile(r"^\{(.*)\}$", re.S)


def parse_multi_value(text: str, separator: str = "|") -> list[str] | None:
    """One cell → list of values, whatever the notation it was written in."""
    text = text.strip()
    if not text:
        return None
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, list):
            return [str(v).strip() for v in value if v is not None and str(v).strip()]
    match = _PG_ARRAY.match(text)
    if match:
        inner = match.group(1)
        items = next(csv.reader([inner], delimiter=",", quotechar='"', skipinitialspace=True), [])
        return [item.strip() for item in items if item.strip() and item.strip().upper() != "NULL"]
    for sep in (separator, "|", ";", ":", ","):
        if sep in text:
            return [part.strip() for part in text.split(sep) if part.strip()]
    return [text]


def to_multi_value(series: pd.Series, separator: str = "|") -> pd.Series:
    """Column of lists; parsing is done once per distinct cell value."""
    if series.dtype == object and series.map(lambda v: isinstance(v, list)).any():
        return series.map(lambda v: v if isinstance(v, list) else (None if is_missing(v) else parse_multi_value(str(v), separator)))
    return map_unique(as_text(series), lambda v: parse_multi_value(v, separator))


def join_multi_value(series: pd.Series, separator: str = "|") -> pd.Series:
    """PostgreSQL/JSON array text (or lists) → the schema's ``a|b`` notation, for validation."""
    def join(value: str) -> str | None:
        items = parse_multi_value(value, separator)
        return None if items is None else separator.join(items)

    if series.dtype == object and series.map(lambda v: isinstance(v, list)).any():
        return series.map(lambda v: separator.join(v) if isinstance(v, list) else None).astype("string")
    return map_unique(as_text(series), join, "string")


def is_missing(value: Any) -> bool:
    if isinstance(value, list):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
