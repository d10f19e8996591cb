"""Our Folium elements: small ``MacroElement``s that hand their part of the page to
``/static/map/geocommune-map.js`` (live loading, filter panel, nearest defibrillator,
legend, search, language switch), and the local-asset versions of Folium's plugins.

Folium writes CDN links for Leaflet, jQuery, Bootstrap, Font Awesome and each plugin's
files. Every element here carries instead the path of the copy geocommune serves itself
(``server/static/vendor/``, filled from npm by ``scripts/assets.sh``), and the map loads
only what it uses: Leaflet, MarkerCluster, LocateControl, Fullscreen and our script.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import folium
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.plugins import Fullscreen, LocateControl, MarkerCluster
from folium.template import Template

from server.assets import STATIC_DIR, VENDOR_CSS, VENDOR_JS

OWN_JS = "map/geocommune-map.js"
OWN_CONTROLS_JS = "map/geocommune-controls.js"
OWN_CSS = "map/geocommune-map.css"


@lru_cache(maxsize=None)
def _fingerprint(path: str, mtime_ns: int) -> str:
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]


def static_url(base: str, path: str, *, versioned: bool = False) -> str:
    """``/static/<path>`` under the public base path; ``?v=<hash>`` for our own files,
    so that browsers may cache them and still see a new version at once."""
    url = f"{base}/static/{path}"
    if versioned:
        file = STATIC_DIR / path
        if file.is_file():
            url += f"?v={_fingerprint(path, file.stat().st_mtime_ns)}"
    return url


def js_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>``, no ``<!--``, no U+2028)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )


def _own_assets(element: JSCSSMixin, base: str) -> None:
    element.default_js = [
        ("geocommune_map_js", static_url(base, OWN_JS, versioned=True)),
        ("geocommune_controls_js", static_url(base, OWN_CONTROLS_JS, versioned=True)),
    ]
    element.default_css = [("geocommune_map_css", static_url(base, OWN_CSS, versioned=True))]


# -- Folium's own classes, on local assets ------------------------------------------------


class LocalMap(folium.Map):
    """``folium.Map`` loading Leaflet from geocommune, and nothing else (no jQuery,
    Bootstrap, Font Awesome nor Awesome Markers: the map does not use them)."""

    def __init__(self, *args: Any, base: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_js = [("leaflet", static_url(base, VENDOR_JS["leaflet"]))]
        self.default_css = [("leaflet_css", static_url(base, VENDOR_CSS["leaflet_css"]))]


class LocalMarkerCluster(MarkerCluster):
    def __init__(self, *args: Any, base: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_js = [("markerclusterjs", static_url(base, VENDOR_JS["markercluster"]))]
        self.default_css = [
            ("markerclustercss", static_url(base, VENDOR_CSS["markercluster_css"])),
            ("markerclusterdefaultcss", static_url(base, VENDOR_CSS["markercluster_default_css"])),
        ]


class LocalLocateControl(LocateControl):
    def __init__(self, *args: Any, base: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_js = [("Control_locate_min_js", static_url(base, VENDOR_JS["locatecontrol"]))]
        self.default_css = [("Control_locate_min_css", static_url(base, VENDOR_CSS["locatecontrol_css"]))]


class LocalFullscreen(Fullscreen):
    def __init__(self, *args: Any, base: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_js = [("Control.Fullscreen.js", static_url(base, VENDOR_JS["fullscreen"]))]
        self.default_css = [("Control.FullScreen.css", static_url(base, VENDOR_CSS["fullscreen_css"]))]


# -- ours -----------------------------------------------------------------------------------


class _OwnElement(JSCSSMixin, MacroElement):
    def __init__(self, base: str) -> None:
        super().__init__()
        _own_assets(self, base)


class MapSetup(_OwnElement):
    """Gives the page's configuration (languages, layers, view) to the script; adds the
    scale bar, the status line read by screen readers and French titles on Leaflet's
    buttons. Must be the first of our elements on the map."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            GeoCommune.setup({{ this._parent.get_name() }}, {{ this.config_json }});
        {% endmacro %}
        """
    )

    def __init__(self, config: dict[str, Any], base: str) -> None:
        super().__init__(base)
        self._name = "GeoCommuneSetup"
        self.config_json = js_json(config)


class LiveLayer(_OwnElement):
    """One layer loaded from the OGC API for the current view (bbox + limit), again after
    each pan or zoom; stale responses dropped; points in ``cluster`` (MarkerCluster), or
    server-side counts per area when the view holds more than ``limit`` features."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            GeoCommune.liveLayer({{ this._parent.get_name() }}, {{ this.layer_id_json }},
                {{ this.group.get_name() }}, {{ this.cluster.get_name() if this.cluster else 'null' }});
        {% endmacro %}
        """
    )

    def __init__(self, layer_id: str, group: folium.FeatureGroup, cluster: MarkerCluster | None, base: str) -> None:
        super().__init__(base)
        self._name = "GeoCommuneLiveLayer"
        self.layer_id_json = js_json(layer_id)
        self.group = group
        self.cluster = cluster


class FilterPanel(_OwnElement):
    """Accessibility choices for one layer; the chosen ones become a CQL2 ``filter``."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            GeoCommune.filterPanel({{ this._parent.get_name() }}, {{ this.layer_id_json }});
        {% endmacro %}
        """
    )

    def __init__(self, layer_id: str, base: str) -> None:
        super().__init__(base)
        self._name = "GeoCommuneFilterPanel"
        self.layer_id_json = js_json(layer_id)


class NearestControl(_OwnElement):
    """« Défibrillateur le plus proche »: position (or map centre) → the server's nearest
    search → marker, line and distance in metres."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            GeoCommune.nearestControl({{ this._parent.get_name() }}, {{ this.layer_id_json }},
                {{ this.locate.get_name() if this.locate else 'null' }});
        {% endmacro %}
        """
    )

    def __init__(self, layer_id: str, locate: LocateControl | None, base: str) -> None:
        super().__init__(base)
        self._name = "GeoCommuneNearest"
        self.layer_id_json = js_json(layer_id)
        self.locate = locate


class _Simple(_OwnElement):
    """An element that only calls ``GeoCommune.<function>(map)``."""

    function = ""

    def __init__(self, base: str) -> None:
        super().__init__(base)
        self._name = f"GeoCommune_{self.function}"
        self._template = Template(
            "{% macro script(this, kwargs) %}GeoCommune." + self.function
            + "({{ this._parent.get_name() }});{% endmacro %}"
        )


class Legend(_Simple):
    function = "legend"


class SearchControl(_Simple):
    function = "searchControl"


class LanguageSwitch(_Simple):
    function = "languageSwitch"


class Start(_Simple):
    """Last element: first view and first loads, once every layer and control exists."""

    function = "start"


def own_asset_paths() -> list[Path]:
    return [STATIC_DIR / OWN_JS, STATIC_DIR / OWN_CONTROLS_JS, STATIC_DIR / OWN_CSS]
