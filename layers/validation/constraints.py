"""Constraint checks on whole columns: required, pattern, enum, bounds, lengths, unique.

They only judge cells that are present and of the right type, as frictionless does,
so one wrong cell yields one type error, not a cascade.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..schema_model import FieldSpec
from . import messages
from .celltypes import TypeResult
from .columns import ColumnView, full_match, mask, take_text, where

Explain = Callable[[str], str]
_TEXT_TYPES = frozenset({"string", "date", "datetime", "time", "year", "yearmonth", "duration"})


@dataclass
class Finding:
    rule: str
    cells: np.ndarray  # bool per row
    explain: Explain | None = None  # message for one value; None: ``message`` for all
    message: str | None = None


def check_constraints(spec: FieldSpec, view: ColumnView, typed: TypeResult, rows: np.ndarray) -> list[Finding]:
    valid = view.present & ~typed.bad
    text = where(valid, view.text)
    findings: list[Finding] = []
    if spec.required:
        findings.append(Finding("required", view.missing.copy(), message=messages.REQUIRED))
    if spec.pattern and spec.type == "string":  # Table Schema patterns apply to strings
        pattern = spec.pattern
        findings.append(Finding("pattern", valid & ~full_match(text, pattern),
                                lambda v: messages.pattern_mismatch(v, pattern)))
    if spec.enum is not None:
        findings.append(_enum(spec, text, typed, valid))
    if typed.numbers is not None:
        findings.extend(_bounds(spec, typed.numbers, valid))
    findings.extend(_lengths(spec, text, typed, valid))
    for rule, (cells, explain) in (typed.item_bad or {}).items():
        findings.append(Finding(rule, cells & valid, explain))
    if spec.unique:
        findings.append(_unique(spec, text, typed, valid, rows))
    return findings


def _enum(spec: FieldSpec, text: pa.Array, typed: TypeResult, valid: np.ndarray) -> Finding:
    allowed = spec.enum or ()
    if spec.type in ("number", "integer") and typed.numbers is not None:
        values = np.array([float(v) for v in allowed], dtype=float)
        ok = np.isin(typed.numbers, values)
    else:
        ok = mask(pc.is_in(text, value_set=pa.array([str(v) for v in allowed], pa.string())))
    return Finding("enum", valid & ~ok, lambda v: messages.not_allowed(v, allowed))


def _bounds(spec: FieldSpec, numbers: np.ndarray, valid: np.ndarray) -> list[Finding]:
    found = []
    with np.errstate(invalid="ignore"):
        if spec.minimum is not None:
            low = spec.minimum
            found.append(Finding("minimum", valid & ~(numbers >= low), lambda v: messages.below(v, low)))
        if spec.maximum is not None:
            high = spec.maximum
            found.append(Finding("maximum", valid & ~(numbers <= high), lambda v: messages.above(v, high)))
    return found


def _lengths(spec: FieldSpec, text: pa.Array, typed: TypeResult, valid: np.ndarray) -> list[Finding]:
    if spec.min_length is None and spec.max_length is None:
        return []
    if typed.lengths is not None:
        lengths = typed.lengths
    elif spec.type in _TEXT_TYPES:
        lengths = pc.fill_null(pc.utf8_length(text), -1).to_numpy(zero_copy_only=False)
    else:
        return []
    found = []
    if spec.min_length is not None:
        low = int(spec.min_length)
        found.append(Finding("min-length", valid & (lengths < low), lambda v: messages.too_short(v, low)))
    if spec.max_length is not None:
        high = int(spec.max_length)
        found.append(Finding("max-length", valid & (lengths > high), lambda v: messages.too_long(v, high)))
    return found


def _unique(spec: FieldSpec, text: pa.Array, typed: TypeResult, valid: np.ndarray, rows: np.ndarray) -> Finding:
    """Every repeat after the first occurrence, like frictionless; numbers compare by value."""
    numeric = typed.numbers is not None and spec.type in ("number", "integer")
    key = pa.array(typed.numbers, mask=~valid) if numeric else text
    counts = pc.value_counts(key)
    repeated = pc.drop_null(counts.field("values").filter(pc.greater(counts.field("counts"), 1)))
    duplicate = np.zeros(len(valid), bool)
    first_row: dict[object, int] = {}
    if len(repeated):
        # Only the cells holding a repeated value are walked, usually none or a few.
        candidates = np.flatnonzero(mask(pc.is_in(key, value_set=repeated)))
        for i, value in zip(candidates, key.take(pa.array(candidates, pa.int64())).to_pylist()):
            if value in first_row:
                duplicate[i] = True
            else:
                first_row[value] = int(rows[i])

    def explain(value: str) -> str:
        lookup: object = value
        if numeric:
            try:
                lookup = float(value.strip())
            except ValueError:
                pass
        return messages.duplicate(value, first_row.get(lookup))

    return Finding("unique", duplicate, explain)


def texts_at(view: ColumnView, cells: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    index = np.flatnonzero(cells)
    return index, take_text(view.text, index) if len(index) else []
