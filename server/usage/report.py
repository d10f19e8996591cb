"""The usage report: stored rows → the ``/stats?f=json`` document (the HTML page draws it).

::

    {
      "generated": "2026-11-23T10:04:05Z",          # UTC, when this report was made
      "period": {"first": "2026-08-26", "last": "2026-11-23", "days": 90},   # UTC days, inclusive
      "layers": {
        "defibrillateurs": {
          "title": {"fr": "…", "en": "…"},
          "days": [                                  # days with at least one use, in order
            {"date": "2026-11-23",
             "api": {"json": 12, "html": 3},         # API requests, by format
             "downloads": {"csv": 2},                # downloads, by format
             "kinds": {"items": {"json": 10, "html": 3}, "item": {"json": 2}, "download": {"csv": 2}}}
          ],
          "totals": {"api": {…}, "downloads": {…}, "kinds": {…}, "requests": 15, "downloads_count": 2}
        }
      }
    }

``kinds`` details ``api`` and ``downloads`` by resource: ``collection``, ``items``, ``item``,
``queryables``, ``schema``, ``sortables``, ``nearest``, ``aggregate``, ``download``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable

from layers.store.usage import UsageRow

DOWNLOAD_KIND = "download"


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date

    @classmethod
    def ending_today(cls, days: int, today: dt.date | None = None) -> "Period":
        last = today or dt.datetime.now(dt.UTC).date()
        return cls(last - dt.timedelta(days=days - 1), last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def dates(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range(self.days)]


def _add(table: dict[str, int], key: str, n: int) -> None:
    table[key] = table.get(key, 0) + n


def _empty_day(date: str) -> dict[str, Any]:
    return {"date": date, "api": {}, "downloads": {}, "kinds": {}}


def layer_report(rows: Iterable[UsageRow], title: dict[str, str]) -> dict[str, Any]:
    """One layer's days and totals (``rows`` of that layer only)."""
    days: dict[str, dict[str, Any]] = {}
    totals: dict[str, Any] = {"api": {}, "downloads": {}, "kinds": {}}
    for row in rows:
        day = days.setdefault(row.day, _empty_day(row.day))
        group = "downloads" if row.kind == DOWNLOAD_KIND else "api"
        for target in (day, totals):
            _add(target[group], row.format, row.n)
            _add(target["kinds"].setdefault(row.kind, {}), row.format, row.n)
    totals["requests"] = sum(totals["api"].values())
    totals["downloads_count"] = sum(totals["downloads"].values())
    return {"title": dict(title), "days": [days[d] for d in sorted(days)], "totals": totals}


def build_report(
    rows: Iterable[UsageRow], titles: dict[str, dict[str, str]], period: Period, generated: dt.datetime
) -> dict[str, Any]:
    """The report of the layers in ``titles`` (in that order); rows of other layers are left out."""
    by_layer: dict[str, list[UsageRow]] = {layer: [] for layer in titles}
    for row in rows:
        if row.layer in by_layer:
            by_layer[row.layer].append(row)
    return {
        "generated": generated.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "period": {"first": period.first.isoformat(), "last": period.last.isoformat(), "days": period.days},
        "layers": {layer: layer_report(by_layer[layer], titles[layer]) for layer in titles},
    }
