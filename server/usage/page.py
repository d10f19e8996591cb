"""The ``/stats`` HTML page, in French or English: one chart per layer (``chart.py``), the
totals per format and the daily figures as tables (the charts' text alternative).

A standalone page with the site's stylesheets (Bootstrap and ``geocommune.css`` from
``/static``), not pygeoapi's ``_base.html``: that template expects pygeoapi's request
context and fetches ``?f=jsonld`` of the page from a script, which ``/stats`` does not serve.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from .chart import Panel, layer_chart
from .report import Period

TEXTS: dict[str, dict[str, str]] = {
    "page_title": {"fr": "Fréquentation des données", "en": "Data usage"},
    "intro": {
        "fr": "Requêtes à l'API et téléchargements de chaque couche, par jour (UTC) et par format, "
              "sur les {days} derniers jours.",
        "en": "API requests and downloads of each layer, per day (UTC) and per format, over the last {days} days.",
    },
    "privacy": {
        "fr": "Seuls des compteurs sont enregistrés (jour, couche, type de ressource, format) : "
              "aucune adresse IP, aucun navigateur, aucune adresse de page, aucune heure.",
        "en": "Only counters are kept (day, layer, kind of resource, format): "
              "no IP address, no browser, no page address, no time of day.",
    },
    "counted": {
        "fr": "Sont comptées les lectures réussies (revalidations « 304 » comprises) d'une collection : "
              "sa description, ses objets, un objet, ses queryables, sortables et schéma, les recherches "
              "du plus proche et les comptages par tuile de la carte, et ses téléchargements ; "
              "pas les erreurs.",
        "en": "Counted: successful reads (revalidations « 304 » included) of a collection: its description, "
              "its items, one item, its queryables, sortables and schema, the map's nearest searches and "
              "tile counts, and its downloads; not errors.",
    },
    "api": {"fr": "Requêtes API", "en": "API requests"},
    "summary": {"fr": "Requêtes API : {requests} · Téléchargements : {downloads}",
                "en": "API requests: {requests} · Downloads: {downloads}"},
    "downloads": {"fr": "Téléchargements", "en": "Downloads"},
    "chart_title": {"fr": "Fréquentation de la couche « {title} »", "en": "Usage of the layer “{title}”"},
    "totals_caption": {"fr": "Totaux par format sur la période", "en": "Totals per format over the period"},
    "daily_summary": {"fr": "Chiffres par jour (tableau)", "en": "Figures per day (table)"},
    "daily_caption": {"fr": "Requêtes et téléchargements par jour et par format",
                      "en": "Requests and downloads per day and per format"},
    "format": {"fr": "Format", "en": "Format"},
    "date": {"fr": "Jour (UTC)", "en": "Day (UTC)"},
    "total": {"fr": "Total", "en": "Total"},
    "none": {"fr": "Aucune utilisation enregistrée sur la période.", "en": "No use recorded over the period."},
    "generated": {"fr": "Chiffres arrêtés le {generated}.", "en": "Figures as of {generated}."},
    "json": {"fr": "Ces chiffres en JSON", "en": "These figures as JSON"},
    "home": {"fr": "Accueil", "en": "Home"},
    "map": {"fr": "Carte", "en": "Map"},
    "other_language": {"fr": "English", "en": "Français"},
}


def texts_for(lang: str) -> dict[str, str]:
    return {key: values[lang] for key, values in TEXTS.items()}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _series(days: list[dict[str, Any]], group: str, formats: list[str], dates: list[dt.date]) -> dict[str, list[int]]:
    index = {d.isoformat(): i for i, d in enumerate(dates)}
    series = {fmt: [0] * len(dates) for fmt in formats}
    for day in days:
        position = index.get(day["date"])
        if position is None:
            continue
        for fmt, n in day[group].items():
            series[fmt][position] = n
    return series


def _layer_view(layer_id: str, entry: dict[str, Any], period: Period, lang: str, texts: dict[str, str],
                number: int) -> dict[str, Any]:
    totals = entry["totals"]
    api_formats = sorted(totals["api"])
    download_formats = sorted(totals["downloads"])
    dates = period.dates()
    title = entry["title"].get(lang) or entry["title"].get("fr") or layer_id
    panels = [
        Panel(texts["api"], _series(entry["days"], "api", api_formats, dates)),
        Panel(texts["downloads"], _series(entry["days"], "downloads", download_formats, dates)),
    ]
    formats = sorted(set(api_formats) | set(download_formats))
    return {
        "id": layer_id,
        "title": title,
        "svg": Markup(layer_chart(f"chart-{number}", texts["chart_title"].format(title=title), dates, panels, lang)),
        "formats": formats,
        "totals": [(fmt, totals["api"].get(fmt, 0), totals["downloads"].get(fmt, 0)) for fmt in formats],
        "requests": totals["requests"],
        "downloads": totals["downloads_count"],
        "api_formats": api_formats,
        "download_formats": download_formats,
        "days": entry["days"],
    }


def build_page(report: dict[str, Any], period: Period, lang: str, base: str, json_url: str, switch_url: str) -> str:
    texts = texts_for(lang)
    layers = [
        _layer_view(layer_id, entry, period, lang, texts, number)
        for number, (layer_id, entry) in enumerate(report["layers"].items(), start=1)
    ]
    return _environment().get_template("stats.html").render(
        lang=lang,
        t=texts,
        base=base,
        days=period.days,
        generated=report["generated"],
        layers=layers,
        json_url=json_url,
        switch_url=switch_url,
        map_url=f"{base}/{'carte' if lang == 'fr' else 'map'}",
    )
