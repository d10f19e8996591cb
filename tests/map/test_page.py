"""The page as Folium builds it (no server, no browser): basemap setting, languages, and no
address outside geocommune but the basemap's tiles."""

from __future__ import annotations

import re

import pytest

from layers.catalogue import get_catalogue
from layers.settings import load_settings
from server.map.page import PublishedLayer, build_page
from server.map.texts import TEXTS

CATALOGUE = get_catalogue(load_settings().catalogue)
LAYERS = [
    PublishedLayer("defibrillateurs", {"fr": "DAE", "en": "AED"}, "Licence Ouverte",
                   {"extent": [5.0, 46.0, 5.4, 46.3], "geometry_count": 10, "geometry_types": ["Point"],
                    "field_types": {"id": "string", "nom": "string", "etat_fonct": "string", "acc": "string"}}),
    PublishedLayer("amenagements-cyclables", {"fr": "Vélo", "en": "Cycling"}, "ODbL",
                   {"extent": [5.1, 46.1, 5.3, 46.2], "geometry_count": 3, "geometry_types": ["LineString"],
                    "field_types": {"id": "string", "ame_d": "string", "ame_g": "string"}}),
]


def _page(basemap: str = "osm", lang: str = "fr", base: str = "") -> str:
    return build_page(lang=lang, base=base, basemap=basemap, catalogue=CATALOGUE, layers=LAYERS, focus=None)


def _outside_addresses(html: str) -> set[str]:
    found = set(re.findall(r"https?://[^\"'\s)\\]+", html.replace("\\u0026", "&")))
    return {u for u in found if not u.startswith("http://www.w3.org/")}


@pytest.mark.parametrize("basemap, host", [("osm", "tile.openstreetmap.org"), ("ign", "data.geopf.fr")])
def test_basemap_setting(basemap, host):
    html = _page(basemap)
    tiles = [u for u in _outside_addresses(html) if "{z}" in u or "TILEMATRIX" in u]
    assert tiles and all(host in u for u in tiles)
    # Besides the tile template, only attribution links (never loaded by the browser).
    for address in _outside_addresses(html):
        assert host in address or "copyright" in address or "ign.fr" in address, address


def test_no_basemap_for_an_offline_intranet():
    html = _page("none")
    assert "L.tileLayer" not in html
    assert not [u for u in _outside_addresses(html) if "tile" in u or "geopf" in u]
    assert '"basemap":"none"' in html


def test_languages_and_base_path():
    fr, en = _page(lang="fr"), _page(lang="en", base="/geo")
    assert '<html lang="fr">' in fr and '<html lang="en">' in en
    assert TEXTS["nearest"]["fr"] in fr and TEXTS["nearest"]["en"] in en
    assert '"url":"/geo/collections/defibrillateurs"' in en and 'src="/geo/static/vendor/leaflet/leaflet.js"' in en
    assert '"otherLanguage":{"lang":"fr","url":"/geo/carte"}' in en
    # Field labels follow the page's language; schema values are translated for English.
    assert '"label":"Accès"' in fr and '"label":"Access"' in en
    assert '"Intérieur":"indoor"' in en


def test_only_published_fields_are_asked():
    html = _page()
    # "acc_lib", "disp_j"… are not in this layer's fields: their popup rows are left out.
    assert '"field":"acc"' in html and '"field":"acc_lib"' not in html


def test_same_inputs_same_page():
    # Every server worker builds the page itself: the same bytes (and ETag) everywhere.
    assert _page() == _page()
