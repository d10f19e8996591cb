"""Validate a table against its national schema, one column operation per field and constraint.

The frame already carries schema field names (see layers/mapping.py) and raw values.
Python only runs per problem found, to build its message, never per row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..report import Problem
from ..schema_model import NationalSchema
from . import messages
from .celltypes import check_type
from .columns import ColumnView, column_view
from .constraints import Finding, check_constraints, texts_at

_RULE_ORDER = {rule: n for n, rule in enumerate(
    ["missing-column", "type", "required", "pattern", "enum", "minimum", "maximum",
     "min-length", "max-length", "unique"]
)}


def validate_frame(frame: pd.DataFrame, schema: NationalSchema, row_numbers: np.ndarray) -> list[Problem]:
    """Every way ``frame`` departs from ``schema``; the data is never changed."""
    rows = np.asarray(row_numbers)
    if len(rows) != len(frame):
        raise ValueError(f"row_numbers has {len(rows)} entries for {len(frame)} rows")
    problems = [messages.missing_column(spec.name)
                for spec in schema.fields if spec.required and spec.name not in frame.columns]
    order = {name: n for n, name in enumerate(schema.names)}
    for spec in schema.fields:
        if spec.name not in frame.columns:
            continue
        column = frame[spec.name]
        if isinstance(column, pd.DataFrame):  # two columns with one name: judge the first
            column = column.iloc[:, 0]
        view = column_view(column, schema.missing_values)
        typed = check_type(spec, view)
        findings = [Finding("type", typed.bad, typed.explain)]
        findings += check_constraints(spec, view, typed, rows)
        for finding in findings:
            problems.extend(_problems(finding, view, rows, spec.name))
    if len(schema.primary_key) > 1:
        problems.extend(_composite_key(frame, schema, rows))
    problems.sort(key=lambda p: (-1 if p.row is None else p.row, order.get(p.field or "", -1),
                                 _RULE_ORDER.get(p.rule, 99)))
    return problems


def _problems(finding: Finding, view: ColumnView, rows: np.ndarray, field: str) -> list[Problem]:
    if not finding.cells.any():
        return []
    index, values = texts_at(view, finding.cells)
    cache: dict[str, str] = {}  # one bad value repeated a million times is explained once
    out = []
    for i, value in zip(index, values):
        if finding.explain is None:
            message = finding.message or ""
        else:
            message = cache.get(value) if value is not None else None
            if message is None:
                message = finding.explain(value or "")
                if value is not None:
                    cache[value] = message
        out.append(messages.problem(finding.rule, message, rows[i], field, value))
    return out


def _composite_key(frame: pd.DataFrame, schema: NationalSchema, rows: np.ndarray) -> list[Problem]:
    key = schema.primary_key
    if not set(key) <= set(frame.columns):
        return []
    values = frame[key].astype("string")
    repeated = values.duplicated(keep="first").to_numpy() & values.notna().any(axis=1).to_numpy()
    label = ", ".join(key)
    return [
        messages.problem("unique", f"la clé ({label}) = ({', '.join(map(str, values.iloc[i]))}) apparaît "
                         f"plusieurs fois alors qu'elle doit être unique", rows[i], label)
        for i in np.flatnonzero(repeated)
    ]
