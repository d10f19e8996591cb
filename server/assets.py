"""Where the HTML pages find their templates, static files and French catalogue.

pygeoapi's wheel loads Leaflet and Bootstrap from public CDNs and ships no compiled
translations, so its HTML pages would call third parties and stay in English. We give it
(``server.templates`` and ``server.locale_dir`` in the generated configuration):

- ``server/templates/``: the few templates we override (local assets, basemap setting,
  links to the map); every other page falls back to pygeoapi's own template;
- ``server/static/``: served at ``/static``; ``vendor/`` in it is filled at install time
  by ``scripts/assets.sh`` from npm (``package-lock.json``) and from the pygeoapi wheel,
  never committed;
- ``server/locale/fr/LC_MESSAGES/messages.po``: French for every ``{% trans %}`` string
  of pygeoapi's templates and ours, compiled to ``messages.mo`` by ``scripts/assets.sh``.
  English needs no catalogue: the message ids are the English text.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)

SERVER_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = SERVER_DIR / "templates"
STATIC_DIR = SERVER_DIR / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
LOCALE_DIR = SERVER_DIR / "locale"
CATALOGUE_PO = LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po"
CATALOGUE_MO = CATALOGUE_PO.with_suffix(".mo")

# Browser assets under /static/vendor/, for pages built outside pygeoapi's templates
# (the map): name → path relative to /static/. Folium's names where Folium has one, so
# its default CDN links can be swapped for these (``folium.Map.default_js/default_css``).
VENDOR_JS = {
    "leaflet": "vendor/leaflet/leaflet.js",
    "jquery": "vendor/jquery/jquery.min.js",
    "bootstrap": "vendor/bootstrap/js/bootstrap.bundle.min.js",
    "awesome_markers": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.js",
    "markercluster": "vendor/leaflet.markercluster/leaflet.markercluster.js",
    "fullscreen": "vendor/leaflet.fullscreen/Control.FullScreen.js",
    "locatecontrol": "vendor/leaflet.locatecontrol/L.Control.Locate.min.js",
}
VENDOR_CSS = {
    "leaflet_css": "vendor/leaflet/leaflet.css",
    "bootstrap_css": "vendor/bootstrap/css/bootstrap.min.css",
    "awesome_markers_font_css": "vendor/fontawesome/css/all.min.css",
    "awesome_markers_css": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.css",
    "markercluster_css": "vendor/leaflet.markercluster/MarkerCluster.css",
    "markercluster_default_css": "vendor/leaflet.markercluster/MarkerCluster.Default.css",
    "fullscreen_css": "vendor/leaflet.fullscreen/Control.FullScreen.css",
    "locatecontrol_css": "vendor/leaflet.locatecontrol/L.Control.Locate.min.css",
}


# Also used by our templates (server/templates/).
PAGE_ASSETS = (
    "vendor/pygeoapi/css/default.css",
    "vendor/pygeoapi/js/default.js",
    "vendor/pygeoapi/img/logo.png",
    "vendor/swagger-ui/swagger-ui-bundle.js",
    "vendor/swagger-ui/swagger-ui.css",
)


def missing_assets() -> list[str]:
    """What ``scripts/assets.sh`` should have produced and is not there (empty when ready)."""
    wanted = [STATIC_DIR / path for path in (*VENDOR_JS.values(), *VENDOR_CSS.values(), *PAGE_ASSETS)]
    wanted.append(CATALOGUE_MO)
    return [str(path.relative_to(SERVER_DIR.parent)) for path in wanted if not path.is_file()]


def html_config(basemap: str) -> dict[str, Any]:
    """Entries of pygeoapi's ``server`` section for the HTML pages.

    With the basemap setting ``none`` (offline intranet), ``map.url`` is emptied: our
    templates then add no tile layer at all.
    """
    missing = missing_assets()
    if missing:
        LOGGER.warning("pages HTML incomplètes, lancez « bash scripts/assets.sh » ; absents : %s",
                       ", ".join(missing))
    config: dict[str, Any] = {
        "templates": {"path": str(TEMPLATES_DIR), "static": str(STATIC_DIR)},
        "locale_dir": str(LOCALE_DIR),
    }
    if basemap == "none":
        config["map"] = {"url": "", "attribution": ""}
    return config
