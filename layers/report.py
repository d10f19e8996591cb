"""Problems found while reading, validating and normalising a source, and the report they form.

A ``Problem`` names the source row (header = line 1 for tables, feature number from 1
for GeoJSON / Shapefile / GeoPackage), the field, the offending value, the rule and a
message in French. The report is rendered as text for people and JSON for machines.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Literal

Severity = Literal["error", "warning", "info"]

# Rules whose problems make a row unusable: in --lenient mode the row is left out.
ROW_REJECTING_RULES = frozenset(
    {"geometry-missing", "geometry-invalid", "outside-territory", "duplicate"}
)


@dataclass(frozen=True, slots=True)
class Problem:
    rule: str
    message: str
    row: int | None = None
    field: str | None = None
    value: str | None = None
    severity: Severity = "error"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_text(self) -> str:
        parts = []
        if self.row is not None:
            parts.append(f"ligne {self.row}")
        if self.field:
            parts.append(f"champ « {self.field} »")
        where = ", ".join(parts)
        value = f" (valeur : « {self.value} »)" if self.value not in (None, "") else ""
        label = {"error": "ERREUR", "warning": "AVERTISSEMENT", "info": "INFO"}[self.severity]
        return f"{label} [{self.rule}] {where + ' : ' if where else ''}{self.message}{value}"


def _short(value: Any, limit: int = 120) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Report:
    """Everything a data team needs to know about one source file for one layer."""

    layer: str
    source: str
    schema: str | None = None
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    # -- building ---------------------------------------------------------------
    def add(
        self,
        rule: str,
        message: str,
        *,
        row: int | None = None,
        field: str | None = None,
        value: Any = None,
        severity: Severity = "error",
    ) -> None:
        self.problems.append(
            Problem(rule, message, row, field, _short(value), severity)
        )

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + int(n)

    # -- reading ------------------------------------------------------------------
    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def conforms(self) -> bool:
        """True when the file fully follows the national schema (no error at all)."""
        return not self.errors

    def by_rule(self) -> dict[str, int]:
        return dict(Counter(p.rule for p in self.problems))

    def summary(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "source": self.source,
            "schema": self.schema,
            "conforms": self.conforms,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "by_rule": self.by_rule(),
            "counts": dict(self.counts),
        }

    def to_dict(self, max_problems: int | None = None) -> dict[str, Any]:
        problems = self.problems if max_problems is None else self.problems[:max_problems]
        return {
            **self.summary(),
            "notes": list(self.notes),
            "problems": [p.to_dict() for p in problems],
            "problems_truncated": max(0, len(self.problems) - len(problems)),
        }

    def to_json(self, max_problems: int | None = None) -> str:
        return json.dumps(self.to_dict(max_problems), ensure_ascii=False, indent=2)

    def to_text(self, max_problems: int | None = 200) -> str:
        lines = [f"Couche : {self.layer}", f"Fichier : {self.source}"]
        if self.schema:
            lines.append(f"Schéma : {self.schema}")
        verdict = "conforme au schéma" if self.conforms else "NON conforme au schéma"
        lines.append(
            f"Résultat : {verdict} — {len(self.errors)} erreur(s), {len(self.warnings)} avertissement(s)"
        )
        if self.counts:
            lines.append("Comptes : " + ", ".join(f"{k} = {v}" for k, v in self.counts.items()))
        for note in self.notes:
            lines.append(f"Note : {note}")
        shown = self.problems if max_problems is None else self.problems[:max_problems]
        for p in shown:
            lines.append("  " + p.to_text())
        hidden = len(self.problems) - len(shown)
        if hidden > 0:
            lines.append(f"  … et {hidden} autre(s) problème(s) (voir --json pour la liste complète)")
        return "\n".join(lines)
