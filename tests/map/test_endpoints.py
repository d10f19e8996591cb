"""The map's HTTP resources, with a plain HTTP client: the pages, the nearest search and
the per-tile counts (``server/map/routes.py``)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import requests
import shapely
from pyproj import Geod

GEOD = Geod(ellps="WGS84")
WORKING = "etat_fonct = 'En fonctionnement'"


def test_pages_fr_and_en(map_server):
    fr = requests.get(map_server.url + "/carte", timeout=10)
    en = requests.get(map_server.url + "/map?layer=amenagements-cyclables", timeout=10)
    assert fr.status_code == en.status_code == 200
    assert fr.headers["Content-Type"].startswith("text/html")
    assert '<html lang="fr">' in fr.text and '<html lang="en">' in en.text
    assert "Carte des habitants" in fr.text and "Residents' map" in en.text
    assert '"focus":"amenagements-cyclables"' in en.text
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in fr.text
    # No feature in the page, only the layers' description: its size does not grow with the data.
    assert len(fr.content) < 40_000
    # Every script and stylesheet is served by geocommune itself.
    for page in (fr.text, en.text):
        for address in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page):
            assert address.startswith(("/static/", "data:")), address
            if address.startswith("/static/"):
                assert requests.get(map_server.url + address, timeout=10).status_code == 200, address
        assert "cdn" not in page.lower()


def test_page_etag_and_unknown_layer(map_server):
    first = requests.get(map_server.url + "/carte", timeout=10)
    again = requests.get(map_server.url + "/carte", headers={"If-None-Match": first.headers["ETag"]}, timeout=10)
    assert again.status_code == 304
    bad = requests.get(map_server.url + "/carte?layer=nope", timeout=10)
    assert bad.status_code == 400 and bad.json()["parameter"] == "layer"


def _brute_nearest(store, lon, lat, working_only=True):
    frame = store.read_layer("defibrillateurs")
    if working_only:
        frame = frame[frame["etat_fonct"] == "En fonctionnement"]
    frame = frame[~frame.geometry.isna()]
    x, y = shapely.get_x(frame.geometry.values), shapely.get_y(frame.geometry.values)
    _, _, d = GEOD.inv(np.full(len(x), lon), np.full(len(x), lat), x, y)
    order = np.lexsort((frame["id"].to_numpy(), d))
    return frame["id"].to_numpy()[order], d[order]


@pytest.mark.parametrize("lon, lat", [(5.225, 46.205), (5.10, 46.30), (2.35, 48.85)])
def test_nearest_working_defibrillator(map_server, lon, lat):
    response = requests.get(map_server.url + "/collections/defibrillateurs/nearest",
                            params={"lon": lon, "lat": lat, "k": 3, "filter": WORKING}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/geo+json")
    body = response.json()
    ids, distances = _brute_nearest(map_server.store, lon, lat)
    assert [f["id"] for f in body["features"]] == list(ids[:3])
    assert [f["distance"] for f in body["features"]] == pytest.approx(list(distances[:3]), abs=0.01)
    assert all(f["properties"]["etat_fonct"] == "En fonctionnement" for f in body["features"])
    assert body["origin"]["coordinates"] == [lon, lat]
    assert body["features"][0]["links"][0]["href"].endswith(f"/collections/defibrillateurs/items/{ids[0]}")


@pytest.mark.parametrize("query, parameter", [
    ({"lat": 46}, "lon"),
    ({"lon": "est", "lat": 46}, "lon"),
    ({"lon": 5, "lat": 95}, "lat"),
    ({"lon": 5, "lat": 46, "k": 0}, "k"),
    ({"lon": 5, "lat": 46, "k": "deux"}, "k"),
    ({"lon": 5, "lat": 46, "filter": "etat_fonct = "}, "filter"),
    ({"lon": 5, "lat": 46, "filter": "inconnu = 1"}, "filter"),
    ({"lon": 5, "lat": 46, "rayon": 3}, "rayon"),
])
def test_nearest_bad_input_names_the_parameter(map_server, query, parameter):
    response = requests.get(map_server.url + "/collections/defibrillateurs/nearest", params=query, timeout=10)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "InvalidParameterValue"
    assert body["parameter"] == parameter
    assert body["description"]


def test_nearest_unknown_collection(map_server):
    response = requests.get(map_server.url + "/collections/inconnue/nearest?lon=5&lat=46", timeout=10)
    assert response.status_code == 404 and response.json()["code"] == "NotFound"


def test_aggregate_counts_add_up_to_items(map_server):
    bbox = "5.0,46.0,5.5,46.4"
    for layer, cql in [("defibrillateurs", None), ("lieux-accessibles", "entree_plain_pied = TRUE")]:
        params = {"bbox": bbox, "level": 11}
        if cql:
            params["filter"] = cql
        aggregate = requests.get(f"{map_server.url}/collections/{layer}/aggregate", params=params, timeout=10).json()
        items = requests.get(f"{map_server.url}/collections/{layer}/items",
                             params={k: v for k, v in {"bbox": bbox, "limit": 1, "f": "json", "filter": cql}.items() if v},
                             timeout=10).json()
        # Tiles overhang the bbox: they hold at least what the bbox holds.
        assert aggregate["numberMatched"] >= items["numberMatched"] > 0
        assert sum(f["properties"]["count"] for f in aggregate["features"]) == aggregate["numberMatched"]
    everything = requests.get(f"{map_server.url}/collections/defibrillateurs/aggregate",
                              params={"bbox": "-180,-85,180,85", "level": 3}, timeout=10).json()
    assert everything["numberMatched"] == map_server.store.metadata("defibrillateurs")["geometry_count"]


@pytest.mark.parametrize("query, parameter", [
    ({"level": 10}, "bbox"), ({"bbox": "1,2,3", "level": 10}, "bbox"), ({"bbox": "5,46,4,47", "level": 3}, "bbox"),
    ({"bbox": "5,46,6,47"}, "level"), ({"bbox": "5,46,6,47", "level": 30}, "level"),
    ({"bbox": "-180,-85,180,85", "level": 12}, "level"),
])
def test_aggregate_bad_input(map_server, query, parameter):
    response = requests.get(map_server.url + "/collections/defibrillateurs/aggregate", params=query, timeout=10)
    assert response.status_code == 400 and response.json()["parameter"] == parameter


@pytest.mark.parametrize("lang, path", [("fr", "/carte"), ("en", "/map")])
def test_landing_and_collection_pages_link_to_the_map(map_server, lang, path):
    landing = requests.get(map_server.url + "/", params={"f": "html", "lang": lang}, timeout=10)
    assert landing.status_code == 200
    links = set(re.findall(r'href="([^"]*/(?:carte|map)(?:\?[^"]*)?)"', landing.text))
    assert any(urlsplit_path(link) == path for link in links), links
    for layer in ("defibrillateurs", "lieux-accessibles"):
        page = requests.get(f"{map_server.url}/collections/{layer}", params={"f": "html", "lang": lang}, timeout=10)
        hrefs = [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]*/(?:carte|map)\?layer=[^"]*)"', page.text)]
        assert hrefs, f"pas de lien vers la carte sur la page de {layer}"
        target = requests.get(hrefs[0], timeout=10)
        assert target.status_code == 200
        assert f'"focus":"{layer}"' in target.text


def urlsplit_path(link: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(link).path
