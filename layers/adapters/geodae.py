"""The national Géo'DAE export (data.gouv.fr) of the defibrillator layer.

The export renames every DAE schema field with a ``c_`` prefix, writes booleans ``t``/``f``,
multi-values as PostgreSQL arrays (``{lundi,mardi,"jours fériés"}``), and flags
duplicates in ``c_doublon``. We rewrite it into schema 1.0.7 notation (``oui``/``non``,
``lundi|mardi|jours fériés``) so that it is validated like any other DAE file.
"""

from __future__ import annotations

import pandas as pd

from ..report import Report
from ..schema_model import NationalSchema
from ..values import join_multi_value, to_boolean

PREFIX = "c_"
# The national export already drops these fields (phones and e-mails, RGPD): their absence
# is expected, not a defect of the file.
OMITTED_BY_SOURCE = frozenset({"tel1", "tel2", "site_email", "expt_tel1", "expt_tel2", "expt_email"})
DUPLICATE_FLAG = "c_doublon"


def detect(columns: list[str]) -> bool:
    prefixed = [c for c in columns if c.lower().startswith(PREFIX)]
    return len(prefixed) >= max(3, len(columns) // 2)


def source_name(field: str) -> str:
    return PREFIX + field


def prepare(frame: pd.DataFrame, schema: NationalSchema, report: Report) -> tuple[pd.DataFrame, pd.Series | None]:
    if not detect(list(frame.columns)):
        return frame, None
    report.notes.append("Fichier reconnu comme un export national Géo'DAE (préfixe c_, booléens t/f, tableaux {…}).")
    flags = None
    if DUPLICATE_FLAG in frame.columns:
        flags = to_boolean(frame[DUPLICATE_FLAG]).fillna(False).astype(bool)
        frame = frame.drop(columns=[DUPLICATE_FLAG])
    renamed = {c: c[len(PREFIX):] for c in frame.columns if c.lower().startswith(PREFIX)}
    frame = frame.rename(columns=renamed)
    out = frame.copy()
    for spec in schema.fields:
        if spec.name not in out.columns:
            continue
        column = out[spec.name]
        if spec.type == "boolean":
            # t/f (PostgreSQL) → the schema's own trueValues/falseValues (oui/non in DAE 1.0.7)
            value = to_boolean(column)
            true_word, false_word = spec.true_values[0], spec.false_values[0]
            converted = value.map({True: true_word, False: false_word}, na_action="ignore").astype(object)
            out[spec.name] = converted.where(value.notna(), column)  # unknown words stay, for validation to report
        elif spec.pattern and "\\|(" in spec.pattern:
            out[spec.name] = join_multi_value(column, "|")
    return out, flags
