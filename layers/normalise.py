"""From validated raw columns to typed, published columns.

Only the schema's fields are kept (a column outside the schema may hold anything,
personal data included, so it is reported and left out). Each field is typed from its
``FieldSpec``; codes that lost their leading zero are padded back; every change that
alters a value is counted in the report.
"""

from __future__ import annotations

import re

import pandas as pd

from .report import Report
from .schema_model import FieldSpec, NationalSchema
from .values import as_text, to_boolean, to_date, to_integer, to_multi_value, to_number

# Field types as stored and served (the store and the API's queryables read these).
STORE_TYPES = {
    "string": "string",
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "year": "integer",
    "array": "array",
}

_FIXED_DIGITS = re.compile(r"^\^?\\d\{(\d+)\}\$?$")
_INSEE = re.compile(r"\\d\[AB|2\[AB|\[AB")


def is_pipe_multi_value(spec: FieldSpec) -> bool:
    """A string field whose pattern is a ``|``-separated list of a vocabulary (DAE ``disp_j``, ``disp_h``)."""
    return spec.type == "string" and bool(spec.pattern) and "\\|(" in spec.pattern


def store_type(spec: FieldSpec) -> str:
    if is_pipe_multi_value(spec):
        return "array"
    if spec.type == "string" and spec.format == "array":
        return "array"
    return STORE_TYPES.get(spec.type, "string")


def _code_width(spec: FieldSpec) -> int | None:
    """Width of a fixed-length numeric code (postal code ``^\\d{5}$``, INSEE code), else None."""
    if not spec.pattern:
        return None
    match = _FIXED_DIGITS.match(spec.pattern.strip())
    if match:
        return int(match.group(1))
    if _INSEE.search(spec.pattern):
        return 5
    return None


def _normalise_string(series: pd.Series, spec: FieldSpec, rows: pd.Series, report: Report) -> pd.Series:
    text = as_text(series)
    present = text.dropna()
    if len(present) and present.str.fullmatch(r"\d+\.0+").all():
        # Ids and codes saved as floats by a spreadsheet or a DBF writer ("6.0"): the whole
        # column is integral, so the ".0" is an artefact, not data.
        text = text.str.replace(r"\.0+$", "", regex=True)
        report.add("float-id", "valeurs écrites comme des nombres décimaux (« 6.0 ») : lues comme des entiers (« 6 »)",
                   field=spec.name, value=present.iloc[0], severity="warning")
    width = _code_width(spec)
    if width:
        short = text.str.fullmatch(r"\d+").fillna(False) & (text.str.len() < width)
        if short.any():
            padded = text.where(~short, text.str.zfill(width))
            for row, before, after in zip(rows[short].head(20), text[short].head(20), padded[short].head(20)):
                report.add(
                    "code-padded",
                    f"code complété par des zéros à gauche : « {before} » → « {after} »",
                    row=int(row), field=spec.name, value=before, severity="warning",
                )
            if short.sum() > 20:
                report.add("code-padded", f"… {int(short.sum()) - 20} autre(s) code(s) complété(s)", field=spec.name, severity="warning")
            report.count("codes_completes", int(short.sum()))
            text = padded
    return text


def normalise_values(frame: pd.DataFrame, schema: NationalSchema, rows: pd.Series, report: Report,
                     skip: set[str] = frozenset()) -> tuple[pd.DataFrame, dict[str, str]]:
    """Typed columns for every schema field present in ``frame``; returns (frame, field_types)."""
    out: dict[str, pd.Series] = {}
    types: dict[str, str] = {}
    for spec in schema.fields:
        if spec.name not in frame.columns or spec.name in skip:
            continue
        series = frame[spec.name]
        kind = store_type(spec)
        if kind == "array":
            value = to_multi_value(series, "|")
        elif kind == "boolean":
            value = to_boolean(series)
        elif kind == "number":
            value = to_number(series)
        elif kind == "integer":
            value = to_integer(series)
        elif kind == "date":
            value = to_date(series)
        else:
            value = _normalise_string(series, spec, rows, report)
        out[spec.name] = value
        types[spec.name] = kind
    extra = [c for c in frame.columns if c not in out and c not in skip and schema.field(c) is None]
    if extra:
        report.notes.append(
            "Colonnes hors schéma non publiées : " + ", ".join(f"« {c} »" for c in extra)
        )
    return pd.DataFrame(out, index=frame.index), types
