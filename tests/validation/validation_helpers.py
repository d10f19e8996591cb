"""Test helpers: schema references, CSV files as readers hand them over, the frictionless oracle."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from layers.catalogue import SchemaRef
from layers.mapping import map_columns
from layers.schema_model import NationalSchema
from layers.settings import CONFIG_DIR
from layers.validation import validate_frame

SCHEMAS = CONFIG_DIR / "schemas"
DAE = SchemaRef("schema-dae", "1.0.7", "table-schema", SCHEMAS / "dae/1.0.7/schema.json")
ACCESLIBRE = SchemaRef("acceslibre-schema", "0.0.20", "table-schema", SCHEMAS / "acceslibre/0.0.20/base/schema.json")
STATIONNEMENT = SchemaRef("schema-stationnement-cyclable", "1.1.1", "table-schema",
                          SCHEMAS / "stationnement-cyclable/1.1.1/schema.json")
SCDL = SchemaRef("scdl-equipements", "0.1.5", "table-schema", SCHEMAS / "scdl-equipements/0.1.5/schema.json")
CYCLE = SchemaRef("schema-amenagements-cyclables", "0.3.5", "json-schema",
                  SCHEMAS / "amenagements-cyclables/0.3.5/schema_amenagements_cyclables.json")


# -- CSV --------------------------------------------------------------------------------
def write_csv(path: Path, rows: list[dict[str, str | None]], columns: list[str] | None = None) -> Path:
    columns = columns or list(rows[0])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return path


def read_csv(path: Path) -> pd.DataFrame:
    """As the CSV reader hands it over: strings, empty cells as None (object dtype)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    frame = pd.DataFrame(rows[1:], columns=rows[0], dtype=object)
    return frame.where(frame != "", None)


def our_errors(path: Path, schema: NationalSchema) -> set[tuple[int | None, str | None, str]]:
    frame = read_csv(path)
    mapping = map_columns(list(frame.columns), schema)
    problems = validate_frame(frame.rename(columns=mapping.rename), schema, np.arange(2, len(frame) + 2))
    return {(p.row, p.field, p.rule) for p in problems}


# -- frictionless, the reference validator ---------------------------------------------------
_CONSTRAINT_RULES = {"required": "required", "pattern": "pattern", "enum": "enum", "minimum": "minimum",
                     "maximum": "maximum", "minLength": "min-length", "maxLength": "max-length"}


def frictionless_errors(path: Path, descriptor: dict) -> set[tuple[int | None, str | None, str]]:
    """frictionless's findings as (row, field, rule), in our rule names."""
    from frictionless import Resource, Schema

    # fieldsMatch "subset": columns may come in any order, extra ones are allowed
    schema = Schema.from_descriptor({**descriptor, "fieldsMatch": "subset"})
    # frictionless only opens paths under its basepath (it refuses "unsafe" absolute paths)
    report = Resource(path=path.name, basepath=str(path.parent), schema=schema).validate()
    required = {f.name for f in schema.fields if f.required}
    primary = list(schema.primary_key)
    found: set[tuple[int | None, str | None, str]] = set()
    for error in report.tasks[0].errors:
        row = getattr(error, "row_number", None)
        field = getattr(error, "field_name", None)
        if error.type == "type-error":
            found.add((row, field, "type"))
        elif error.type == "constraint-error":
            name = re.search(r'constraint "(\w+)"', error.note).group(1)
            found.add((row, field, _CONSTRAINT_RULES.get(name, name)))
        elif error.type == "unique-error":
            found.add((row, field, "unique"))
        elif error.type == "primary-key" and len(primary) == 1:
            found.add((row, primary[0], "required" if "None" in error.note else "unique"))
        elif error.type == "missing-label":
            if field in required:  # a missing optional column is not an error for us
                found.add((None, field, "missing-column"))
        else:  # anything else shows up as a difference in the comparison
            found.add((row, field, error.type))
    return found
