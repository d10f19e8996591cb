"""One layer's usage chart as inline SVG, drawn on the server: no script, no library, no
third-party request, readable without CSS.

Two panels on one time axis — API requests above, downloads below — each a bar per day
stacked by format. Colours from the Okabe–Ito palette (told apart with the common colour
vision deficiencies); each bar segment has a ``<title>`` (tooltip, read by screen
readers) and the whole figure a ``<title>`` and a ``<desc>`` summing it up; the page puts
the same figures in a table beside it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from html import escape

PALETTE = {
    "json": "#0072B2",
    "html": "#E69F00",
    "jsonld": "#009E73",
    "csv": "#CC79A7",
    "geojson": "#56B4E9",
    "gpkg": "#D55E00",
    "fgb": "#F0E442",
    "other": "#999999",
}
FALLBACK_COLOUR = "#666666"

WIDTH = 760
LEFT = 56  # room for the y-axis numbers
RIGHT = 12
PANEL_HEIGHT = 110
PANEL_LABEL = 22  # panel title above each plot
AXIS_LABELS = 18  # dates under the lower plot
LEGEND_ROW = 22


@dataclass(frozen=True)
class Panel:
    label: str  # e.g. « Requêtes API »
    series: dict[str, list[int]]  # format → count per day (same length as the dates)

    @property
    def daily_totals(self) -> list[int]:
        columns = list(self.series.values())
        return [sum(day) for day in zip(*columns)] if columns else []

    @property
    def total(self) -> int:
        return sum(sum(values) for values in self.series.values())


def colour(fmt: str) -> str:
    return PALETTE.get(fmt, FALLBACK_COLOUR)


def nice_ceiling(value: int) -> int:
    """The round number at or above ``value`` that tops the y axis (1, 2, 5 × 10ⁿ)."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # unreachable


def _number(value: int, lang: str) -> str:
    text = f"{value:,}"
    return text.replace(",", "\u202f") if lang == "fr" else text


def _panel(top: float, panel: Panel, dates: list[dt.date], lang: str) -> list[str]:
    plot_width = WIDTH - LEFT - RIGHT
    base = top + PANEL_LABEL + PANEL_HEIGHT
    ceiling = nice_ceiling(max(panel.daily_totals or [0]))
    step = plot_width / max(1, len(dates))
    gap = 1.0 if step >= 4 else 0.0
    parts = [f'<text class="panel" x="{LEFT}" y="{top + 15:.1f}">{escape(panel.label)}</text>']
    for value in (0, ceiling // 2, ceiling) if ceiling % 2 == 0 else (0, ceiling):
        y = base - value / ceiling * PANEL_HEIGHT
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(value, lang)}</text>')
    for index, day in enumerate(dates):
        y = base
        x = LEFT + index * step + gap / 2
        for fmt, values in panel.series.items():
            count = values[index]
            if not count:
                continue
            height = count / ceiling * PANEL_HEIGHT
            y -= height
            parts.append(
                f'<rect x="{x:.2f}" y="{y:.2f}" width="{max(step - gap, 0.5):.2f}" height="{height:.2f}" '
                f'fill="{colour(fmt)}"><title>{day.isoformat()} · {escape(fmt)} : {_number(count, lang)}</title></rect>'
            )
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base:.1f}" y2="{base:.1f}"/>')
    return parts


def _legend(top: float, formats: list[str]) -> list[str]:
    parts, x = [], float(LEFT)
    for fmt in formats:
        parts.append(f'<rect x="{x:.1f}" y="{top + 4:.1f}" width="12" height="12" fill="{colour(fmt)}"/>')
        parts.append(f'<text class="legend" x="{x + 16:.1f}" y="{top + 14:.1f}">{escape(fmt)}</text>')
        x += 24 + 8 * len(fmt) + 12
    return parts


def describe(panel: Panel, first: dt.date, last: dt.date, lang: str) -> str:
    details = ", ".join(f"{fmt} {_number(sum(v), lang)}" for fmt, v in panel.series.items() if sum(v))
    if lang == "fr":
        text = f"{panel.label} par jour du {first.isoformat()} au {last.isoformat()}, empilées par format : " \
               f"{_number(panel.total, lang)} au total"
    else:
        text = f"{panel.label} per day from {first.isoformat()} to {last.isoformat()}, stacked by format: " \
               f"{_number(panel.total, lang)} in all"
    return f"{text} ({details})." if details else f"{text}."


def layer_chart(chart_id: str, title: str, dates: list[dt.date], panels: list[Panel], lang: str) -> str:
    """The SVG of one layer (``chart_id``: unique in the page, for ``aria-labelledby``)."""
    height = len(panels) * (PANEL_LABEL + PANEL_HEIGHT + 8) + AXIS_LABELS + LEGEND_ROW + 6
    description = " ".join(describe(panel, dates[0], dates[-1], lang) for panel in panels)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="usage-chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        "<style>.panel{font:600 13px sans-serif;fill:#222}.tick,.date,.legend{font:11px sans-serif;fill:#333}"
        ".grid{stroke:#ddd;stroke-width:1}.axis{stroke:#555;stroke-width:1}</style>",
    ]
    top = 0.0
    for panel in panels:
        parts.extend(_panel(top, panel, dates, lang))
        top += PANEL_LABEL + PANEL_HEIGHT + 8
    # Dates under the lower plot: first, middle, last.
    step = (WIDTH - LEFT - RIGHT) / max(1, len(dates))
    marks = sorted({0, len(dates) // 2, len(dates) - 1})
    for index in marks:
        anchor = "start" if index == 0 else ("end" if index == len(dates) - 1 else "middle")
        x = LEFT + (index + (0 if anchor == "start" else 1 if anchor == "end" else 0.5)) * step
        parts.append(f'<text class="date" x="{x:.1f}" y="{top + 8:.1f}" text-anchor="{anchor}">{dates[index].isoformat()}</text>')
    formats = list(dict.fromkeys(fmt for panel in panels for fmt, v in panel.series.items() if sum(v)))
    parts.extend(_legend(top + AXIS_LABELS, formats))
    parts.append("</svg>")
    return "".join(parts)
