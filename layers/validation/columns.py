"""One column as the validator sees it: Arrow text, a missing mask, native numbers/booleans.

Every check works on whole columns with Arrow compute kernels (RE2 regexes, casts,
``is_in``), so the cost per row is paid in C, never in a Python loop. Columns typed by
their source (GeoPackage, Shapefile, GeoJSON) keep their native values beside a
canonical text (``12`` for 12.0, ``true`` for True) that the text checks can read.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

Kind = str  # "text" | "number" | "bool" | "datetime" | "mixed"


@dataclass
class ColumnView:
    text: pa.Array  # canonical text per row, null where the cell is missing
    missing: np.ndarray  # bool per row
    kind: Kind
    numbers: np.ndarray | None = None  # float64, when the column holds native numbers
    native_bool: np.ndarray | None = None  # bool per row: the cell holds a native boolean

    @property
    def present(self) -> np.ndarray:
        return ~self.missing


def mask(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow result as a numpy mask, null counting as False."""
    filled = pc.fill_null(array, False)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks() if filled.num_chunks else pa.array([], pa.bool_())
    return filled.to_numpy(zero_copy_only=False).astype(bool, copy=False)


def where(keep: np.ndarray, text: pa.Array) -> pa.Array:
    """``text`` with null outside ``keep``: the later checks only see the cells they judge."""
    return pc.if_else(pa.array(keep), text, pa.scalar(None, pa.string()))


def take_text(text: pa.Array, indices: np.ndarray) -> list[str | None]:
    return text.take(pa.array(indices, pa.int64())).to_pylist()


# -- regular expressions ---------------------------------------------------------------
_UNICODE_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u([0-9A-Fa-f]{4})")


def _to_re2(pattern: str) -> str:
    r"""Python ``\uXXXX`` escapes as RE2 ``\x{XXXX}`` (SCDL patterns use them)."""
    return _UNICODE_ESCAPE.sub(lambda m: f"{m.group(1)}\\x{{{m.group(2)}}}", pattern)


def full_match(text: pa.Array, pattern: str) -> np.ndarray:
    """True where the whole cell matches ``pattern`` (Table Schema semantics); null cells False.

    The whole alternation is anchored, as XML Schema (and Table Schema) patterns are.
    RE2 runs vectorised; a pattern RE2 cannot compile (look-arounds…) falls back to
    Python's ``re`` on the present cells.
    """
    try:
        return mask(pc.match_substring_regex(text, f"^(?:{_to_re2(pattern)})$"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        rx = re.compile(pattern)
        values = text.to_pylist()
        return np.fromiter((v is not None and rx.fullmatch(v) is not None for v in values), bool, len(values))


# -- building a view -----------------------------------------------------------------
def column_view(series: pd.Series, missing_values: tuple[str, ...] = ("",)) -> ColumnView:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return _bool_view(series)
    if pd.api.types.is_numeric_dtype(dtype):
        return _number_view(series)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _datetime_view(series)
    if pd.api.types.is_string_dtype(dtype) and dtype != object:  # "str", Arrow-backed by default in pandas 3
        return _text_view(_as_text(pa.array(series.array, type=pa.string(), from_pandas=True)), missing_values)
    if dtype != object:  # categoricals and other extension types: judged by their values
        series = series.astype(object)
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred in ("string", "empty"):
        return _text_view(pa.array(series, type=pa.string(), from_pandas=True), missing_values)
    if inferred == "boolean":
        return _bool_view(series.astype("boolean"))
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return _number_view(pd.to_numeric(series, errors="coerce"))
    if inferred in ("datetime", "datetime64"):
        return _datetime_view(pd.to_datetime(series, errors="coerce"))
    return _mixed_view(series, missing_values)


def _as_text(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _text_view(text: pa.Array, missing_values: tuple[str, ...]) -> ColumnView:
    missing = pc.is_null(text)
    if missing_values:
        missing = pc.or_(missing, pc.is_in(text, value_set=pa.array(list(missing_values), pa.string())))
    missing_mask = mask(missing)
    return ColumnView(where(~missing_mask, text), missing_mask, "text")


def _number_view(series: pd.Series) -> ColumnView:
    numbers = series.astype("float64").to_numpy(na_value=np.nan)
    missing = np.isnan(numbers)
    # Integers keep their digits (no float rounding of long identifiers); Arrow writes 12.0 as "12".
    source = series if pd.api.types.is_integer_dtype(series.dtype) else pd.Series(numbers)
    text = pc.cast(pa.array(source, from_pandas=True), pa.string())
    return ColumnView(where(~missing, text), missing, "number", numbers=numbers)


def _bool_view(series: pd.Series) -> ColumnView:
    values = series.astype("boolean")
    missing = values.isna().to_numpy()
    text = pa.array(np.where(values.fillna(False).to_numpy(bool), "true", "false"), pa.string())
    return ColumnView(where(~missing, text), missing, "bool", native_bool=~missing)


def _datetime_view(series: pd.Series) -> ColumnView:
    missing = series.isna().to_numpy()
    stamps = series.dt.tz_convert(None) if getattr(series.dt, "tz", None) is not None else series
    midnight = bool((stamps.dropna() == stamps.dropna().dt.normalize()).all())
    text = stamps.dt.strftime("%Y-%m-%d" if midnight else "%Y-%m-%dT%H:%M:%S")
    return ColumnView(where(~missing, pa.array(text, type=pa.string(), from_pandas=True)), missing, "datetime")


def _canonical(value: object) -> tuple[str | None, bool]:
    """Text for one cell of a mixed column, and whether it is a native boolean."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None, False
    if isinstance(value, str):
        return value, False
    if isinstance(value, (bool, np.bool_)):
        return ("true" if value else "false"), True
    if isinstance(value, (int, np.integer)):
        return str(int(value)), False
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None, False
        return (str(int(value)) if float(value).is_integer() else repr(float(value))), False
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, default=str), False
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat(), False
    return str(value), False


def _mixed_view(series: pd.Series, missing_values: tuple[str, ...]) -> ColumnView:
    # Columns of lists (GeoJSON arrays) or mixed types: the one per-cell conversion, rare
    # and limited to such columns.
    pairs = [_canonical(v) for v in series.to_numpy(dtype=object)]
    text = pa.array([p[0] for p in pairs], pa.string())
    view = _text_view(text, missing_values)
    view.kind = "mixed"
    view.native_bool = np.fromiter((p[1] for p in pairs), bool, len(pairs))
    return view
