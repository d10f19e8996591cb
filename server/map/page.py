"""The residents' map page, built with Folium: an empty Leaflet map, one layer group per
published layer (a MarkerCluster inside for points), Folium's plugins on local assets and
our elements, which load the features from the OGC API in the browser.

The page embeds no feature at all: its weight does not depend on the size of the layers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import folium

from layers.catalogue import Catalogue
from server.pygeoapi_config import BASEMAPS

from .elements import (
    FilterPanel,
    LanguageSwitch,
    Legend,
    LiveLayer,
    LocalFullscreen,
    LocalLocateControl,
    LocalMap,
    LocalMarkerCluster,
    MapSetup,
    NearestControl,
    SearchControl,
    Start,
)
from .presentation import presentation_for
from .texts import localise, texts_for

PATHS = {"fr": "carte", "en": "map"}
MAX_ZOOM = 19
# A favicon inside the page: no /favicon.ico request (and no 404 in the console).
FAVICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
    "%3Crect width='16' height='16' rx='3' fill='%23009E73'/%3E%3Cpath d='M8 13 3 8a2.6 2.6 0 0 1 5-3 2.6 2.6 0 0 1 5 3z' "
    "fill='%23fff'/%3E%3C/svg%3E"
)


@dataclass(frozen=True)
class PublishedLayer:
    id: str
    title: dict[str, str]
    licence: str
    metadata: dict[str, Any]


def map_path(base: str, lang: str) -> str:
    return f"{base}/{PATHS[lang]}"


def _bounds(extents: list[list[float]]) -> list[list[float]] | None:
    boxes = [e for e in extents if e and len(e) == 4]
    if not boxes:
        return None
    return [[min(b[1] for b in boxes), min(b[0] for b in boxes)], [max(b[3] for b in boxes), max(b[2] for b in boxes)]]


def _layer_config(layer: PublishedLayer, lang: str, base: str) -> dict[str, Any]:
    metadata = layer.metadata
    geometry = ",".join(metadata.get("geometry_types") or ["Point"])
    presentation = presentation_for(layer.id, layer.title, geometry, dict(metadata.get("field_types") or {}))
    localised = localise(presentation, lang)
    return {
        "id": layer.id,
        "url": f"{base}/collections/{layer.id}",
        # The data's licence in the attribution line (added by the script: Leaflet's
        # featureGroup() takes no options, so Folium's ``attribution`` would be lost).
        "attribution": {"name": localised["name"], "licence": layer.licence},
        "extent": metadata.get("extent"),
        "count": metadata.get("geometry_count", 0),
        **localised,
    }


def build_page(
    *,
    lang: str,
    base: str,
    basemap: str,
    catalogue: Catalogue,
    layers: list[PublishedLayer],
    focus: str | None,
) -> str:
    """The whole HTML page of the map in ``lang`` ("fr" or "en")."""
    texts = texts_for(lang)
    configs = [_layer_config(layer, lang, base) for layer in layers]
    focused = next((c for c in configs if c["id"] == focus), None)
    bounds = _bounds([focused["extent"]] if focused else [c["extent"] for c in configs])
    if bounds is None:
        boxes = catalogue.territory_bboxes
        bounds = _bounds([list(boxes[0])]) if boxes else [[41.2, -5.5], [51.3, 9.9]]
    centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]

    m = LocalMap(location=centre, zoom_start=12, tiles=None, max_zoom=MAX_ZOOM, control_scale=False, base=base)
    tiles = BASEMAPS.get(basemap)
    if tiles is not None:
        url, attribution = tiles
        folium.TileLayer(url, attr=attribution, name=texts["page_title"], max_zoom=MAX_ZOOM, max_native_zoom=18,
                         control=False).add_to(m)

    other = "en" if lang == "fr" else "fr"
    config = {
        "lang": lang,
        "base": base,
        "texts": texts,
        "layers": configs,
        "bounds": bounds,
        "focus": focused["id"] if focused else None,
        "otherLanguage": {"lang": other, "url": map_path(base, other)},
        "basemap": basemap if tiles is not None else "none",
    }
    MapSetup(config, base).add_to(m)

    locate = LocalLocateControl(
        base=base,
        position="topleft",
        flyTo=True,
        showPopup=True,
        keepCurrentZoomLevel=False,
        initialZoomLevel=16,
        strings={"title": texts["locate"], "popup": texts["locate_popup"], "outsideMapBoundsMsg": texts["locate_outside"]},
    )
    locate.add_to(m)
    LocalFullscreen(base=base, position="topleft", title=texts["fullscreen"], title_cancel=texts["fullscreen_exit"]).add_to(m)

    for layer, conf in zip(layers, configs):
        name = conf["name"]
        group = folium.FeatureGroup(name=name, overlay=True, control=True, show=True)
        group.add_to(m)
        cluster = None
        if conf["kind"] == "points":
            cluster = LocalMarkerCluster(base=base, control=False, show=True, chunkedLoading=True,
                                         showCoverageOnHover=False, maxClusterRadius=50,
                                         spiderfyOnMaxZoom=True, disableClusteringAtZoom=18)
            cluster.add_to(group)
        LiveLayer(layer.id, group, cluster, base).add_to(m)
        if conf.get("filters"):
            FilterPanel(layer.id, base).add_to(m)
        if conf.get("nearest_filter") is not None:
            NearestControl(layer.id, locate, base).add_to(m)

    SearchControl(base).add_to(m)
    Legend(base).add_to(m)
    LanguageSwitch(base).add_to(m)
    folium.LayerControl(position="topright", collapsed=True).add_to(m)
    Start(base).add_to(m)

    root = m.get_root()
    root.title = f"{texts['page_title']} — {catalogue.publisher.get('name', '')}".strip(" —")
    _stable_ids(root)
    return _finish_html(root.render(), lang, texts)


def _stable_ids(root: Any) -> None:
    """Folium names every element with a random UUID; numbered in tree order instead, the
    same inputs give the same page in every worker process, hence the same ETag."""
    counter = 0

    def visit(element: Any) -> None:
        nonlocal counter
        counter += 1
        element._id = f"{counter:04d}"
        for child in list(getattr(element, "_children", {}).values()):
            visit(child)

    visit(root)


_VIEWPORT = re.compile(r'<meta name="viewport"[^>]*>', re.S)


def _finish_html(html: str, lang: str, texts: dict[str, str]) -> str:
    """What Folium's page template cannot be told: the document language, a viewport that
    lets people zoom the page (Folium forbids it), a favicon and a heading."""
    html = html.replace("<html>", f'<html lang="{lang}">', 1)
    viewport = '<meta name="viewport" content="width=device-width, initial-scale=1">'
    html, found = _VIEWPORT.subn(viewport, html, count=1)
    head_extra = f'<link rel="icon" href="{FAVICON}">'
    if not found:
        head_extra = viewport + head_extra
    html = html.replace("<head>", "<head>\n    " + head_extra, 1)
    heading = (
        f'<h1 class="gc-visually-hidden">{_escape(texts["page_title"])}</h1>'
        f'<noscript><p class="gc-noscript">{_escape(_NOSCRIPT[lang])}</p></noscript>'
    )
    return html.replace("<body>", "<body>\n    " + heading, 1)


_NOSCRIPT = {
    "fr": "Cette carte a besoin de JavaScript. Les données restent disponibles dans l'API (lien « collections »).",
    "en": "This map needs JavaScript. The data stay available through the API (\"collections\" link).",
}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
