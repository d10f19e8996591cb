"""OWSLib (owslib.ogcapi.features) against the real server, on a realistic Géo'DAE layer:
what a Python client sees — landing page, conformance, collections, queryables, items by
bbox / CQL2 filter / sort / properties / output CRS, one item, and the full paging walk."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pyproj
import pytest
import requests
import shapely
from owslib.ogcapi.features import Features

LAYER = "defibrillateurs"
TIMEOUT = 30
CRS_2154 = "http://www.opengis.net/def/crs/EPSG/0/2154"
# QGIS sends a filter to the server only when all four are declared.
QGIS_FILTER_CLASSES = [
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
]


@pytest.fixture(scope="module")
def api(dae_server) -> Features:
    return Features(dae_server.url, timeout=TIMEOUT)


def all_items(api, **kwargs) -> dict:
    return api.collection_items(LAYER, limit=10_000, **kwargs)


def test_landing_page(api):
    landing = api.links
    rels = {link["rel"] for link in landing}
    assert {"conformance", "data", "service-desc"} <= rels


def test_conformance_declares_exactly_what_works(api):
    declared = set(api.conformance()["conformsTo"])
    assert set(QGIS_FILTER_CLASSES) <= declared
    assert {
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
        "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    } <= declared
    # Read-only collections, no temporal or array functions: not declared.
    assert not [uri for uri in declared if "ogcapi-features-4" in uri]
    assert not [uri for uri in declared if uri.endswith(("temporal-functions", "array-functions", "case-insensitive-comparison"))]


def test_collections_and_their_crs(api):
    assert [c["id"] for c in api.collections()["collections"]] == [LAYER]
    collection = api.collection(LAYER)
    assert collection["title"] == "Défibrillateurs automatisés externes (DAE)"
    assert collection["storageCrs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    codes = {uri.rsplit("/", 1)[-1] for uri in collection["crs"]}
    assert {"CRS84", "4326", "2154", "3857"} | {str(code) for code in range(3942, 3951)} <= codes
    items = [link for link in collection["links"] if link["rel"] == "items" and link["type"] == "application/geo+json"]
    assert items and "?" not in items[0]["href"]  # see server/conformance.py (GDAL's id lookup)


def test_queryables_are_typed_from_the_national_schema(api):
    queryables = api.collection_queryables(LAYER)
    properties = queryables["properties"]
    assert properties["geometry"] == {"title": "Géométrie", "format": "geometry-point", "x-ogc-role": "primary-geometry"}
    assert properties["id"]["type"] == "string" and properties["id"]["x-ogc-role"] == "id"
    assert properties["acc"]["type"] == "string" and properties["acc"]["enum"] == ["Intérieur", "Extérieur"]
    assert properties["acc"]["title"] == "Environnement d'accès du DAE"
    assert properties["etat_fonct"]["enum"] == [
        "En fonctionnement", "Hors service", "Supprimé définitivement", "Absent momentanément", "Inconnu"
    ]
    assert properties["acc_lib"]["type"] == "boolean"
    assert properties["date_instal"] == {**properties["date_instal"], "type": "string", "format": "date"}
    assert properties["com_insee"]["pattern"] == r"^\d[AB\d]\d{3}$"
    assert properties["disp_j"]["type"] == "array"
    assert properties["disp_j"]["items"]["enum"][:3] == ["7j/7", "lundi", "mardi"]
    assert "non renseigné" in properties["disp_h"]["items"]["enum"]
    # Only published fields: what RGPD removed is not queryable.
    assert "tel1" not in properties and "expt_email" not in properties


def test_items_by_bbox(api, dae_server):
    frame = dae_server.frame
    box = [5.20, 46.15, 5.25, 46.22]
    want = set(frame.loc[frame.intersects(shapely.box(*box)), "id"])
    result = all_items(api, bbox=box)
    assert {f["id"] for f in result["features"]} == want
    assert result["numberMatched"] == len(want) > 0


def test_items_by_cql2_text_filter(api, dae_server):
    frame = dae_server.frame
    result = all_items(api, filter="com_insee = '01053' AND acc = 'Extérieur' AND acc_lib = TRUE")
    want = frame[(frame["com_insee"] == "01053") & (frame["acc"] == "Extérieur") & frame["acc_lib"]]
    assert {f["id"] for f in result["features"]} == set(want["id"])
    assert result["numberMatched"] == len(want) > 0


def test_items_by_cql2_json_filter_get_and_post(api, dae_server):
    frame = dae_server.frame
    expression = {
        "op": "and",
        "args": [
            {"op": "in", "args": [{"property": "etat_fonct"}, ["Hors service", "Inconnu"]]},
            {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [5.1, 46.1, 5.25, 46.25]}]},
        ],
    }
    mask = frame["etat_fonct"].isin(["Hors service", "Inconnu"]) & frame.intersects(shapely.box(5.1, 46.1, 5.25, 46.25))
    want = set(frame.loc[mask, "id"])
    by_get = all_items(api, filter=json.dumps(expression), **{"filter-lang": "cql2-json"})
    assert {f["id"] for f in by_get["features"]} == want and by_get["numberMatched"] == len(want) > 0
    by_post = api.collection_items(LAYER, limit=10_000, cql=expression)  # OWSLib POSTs the JSON
    assert {f["id"] for f in by_post["features"]} == want


def test_items_sorted_and_selected(api, dae_server):
    result = api.collection_items(LAYER, sortby=("date_instal", "desc"), properties="nom,date_instal", limit=50)
    dates = [f["properties"]["date_instal"] for f in result["features"]]
    assert dates == sorted(dates, reverse=True)
    assert all(set(f["properties"]) == {"nom", "date_instal"} for f in result["features"])
    # ISO text on both sides: the GeoPackage store's read_layer gives this column as text,
    # the PostGIS store's as datetime.date.
    assert dates[0] == max(str(value) for value in dae_server.frame["date_instal"].dropna())


def test_items_and_item_in_lambert_93(api, dae_server):
    # The projection's own anchor: 3°E 46.5°N is (700 000, 6 600 000) in Lambert-93.
    to_l93 = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:2154", always_xy=True)
    assert to_l93.transform(3.0, 46.5) == pytest.approx((700_000.0, 6_600_000.0), abs=0.01)
    row = dae_server.frame.sort_values("id").iloc[0]
    expected = to_l93.transform(row.geometry.x, row.geometry.y)
    page = api.collection_items(LAYER, crs=CRS_2154, sortby=("id", "asc"), limit=1)
    assert page["features"][0]["id"] == row["id"]
    assert page["features"][0]["geometry"]["coordinates"] == pytest.approx(expected, abs=1.0)
    assert api.response_headers["Content-Crs"] == f"<{CRS_2154}>"
    # A bbox given in Lambert-93 selects the same feature.
    x, y = expected
    near = api.collection_items(LAYER, bbox=[x - 5, y - 5, x + 5, y + 5], **{"bbox-crs": CRS_2154})
    assert row["id"] in {f["id"] for f in near["features"]}
    # OWSLib's collection_item() takes no crs: the same request by hand.
    response = requests.get(f"{dae_server.url}/collections/{LAYER}/items/{row['id']}", params={"crs": CRS_2154},
                            headers={"Accept": "application/geo+json"}, timeout=TIMEOUT)
    assert response.headers["Content-Crs"] == f"<{CRS_2154}>"
    assert response.json()["geometry"]["coordinates"] == pytest.approx(expected, abs=1.0)


def test_single_item(api, dae_server):
    row = dae_server.frame.iloc[7]
    item = api.collection_item(LAYER, row["id"])
    assert item["id"] == row["id"]
    assert item["properties"]["nom"] == row["nom"]
    assert item["properties"]["disp_j"] == (None if row["disp_j"] is None else list(row["disp_j"]))
    assert item["geometry"]["coordinates"] == pytest.approx([row.geometry.x, row.geometry.y])


@pytest.mark.parametrize("query", [{}, {"filter": "acc = 'Intérieur'"}, {"bbox": [5.15, 46.12, 5.3, 46.3]}])
def test_paging_walk_along_next_links(api, dae_server, query):
    """Follow the server's next links: every feature once, as many as numberMatched."""
    params = {"limit": 250, **query}
    seen: list[str] = []
    total = None
    for _ in range(100):
        page = api.collection_items(LAYER, **params)
        total = page["numberMatched"] if total is None else total
        assert page["numberMatched"] == total
        seen += [f["id"] for f in page["features"]]
        following = [link for link in page["links"] if link["rel"] == "next"]
        if not following:
            break
        params = dict(parse_qsl(urlsplit(following[0]["href"]).query))
        params.pop("f", None)
        if "bbox" in params:
            params["bbox"] = params["bbox"].split(",")
    assert len(seen) == len(set(seen)) == total
    if not query:
        assert total == len(dae_server.frame)
