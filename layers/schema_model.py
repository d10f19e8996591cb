"""The shape every national schema is loaded into, whatever its source format.

Table Schema (CSV schemas) and JSON Schema (cycle-path schema) are both reduced to a
list of ``FieldSpec``; ``layers/schemas/`` does the loading and the defect fixes.
Normalisation, queryables and the store's column types all read these specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str  # Table Schema type: string, number, integer, boolean, date, datetime, array, geopoint, …
    format: str | None = None  # e.g. "uri", "email", "array" (geopoint), "date"
    title: str | None = None
    description: str | None = None
    required: bool = False
    unique: bool = False
    pattern: str | None = None
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    true_values: tuple[str, ...] = ("true", "True", "TRUE", "1")
    false_values: tuple[str, ...] = ("false", "False", "FALSE", "0")
    item_type: str | None = None  # for arrays
    item_enum: tuple[Any, ...] | None = None  # for arrays ("arrayItem.enum" / JSON Schema items.enum)
    min_length: int | None = None  # Table Schema constraints.minLength (strings: characters, arrays: items)
    max_length: int | None = None  # Table Schema constraints.maxLength


@dataclass
class NationalSchema:
    name: str
    version: str
    kind: str  # "table-schema" | "json-schema"
    fields: list[FieldSpec]
    raw: dict[str, Any]  # the schema document as corrected (Table Schema descriptor or JSON Schema)
    defects: list[str] = field(default_factory=list)  # French notes: each correction applied to the published file
    primary_key: list[str] = field(default_factory=list)
    missing_values: tuple[str, ...] = ("",)

    def field(self, name: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    @property
    def names(self) -> list[str]:
        return [spec.name for spec in self.fields]
