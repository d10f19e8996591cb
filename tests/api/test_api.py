"""OGC API Features through the real server (granian + pygeoapi + our provider), with
plain HTTP requests and with OWSLib."""

from __future__ import annotations

import pyproj
import pytest
import requests
import shapely

LAYER = "defibrillateurs"  # the layer the server fixture publishes (see conftest)

TIMEOUT = 10
CRS_2154 = "http://www.opengis.net/def/crs/EPSG/0/2154"
CRS_4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"


def get(server, path: str, **params) -> requests.Response:
    return requests.get(server.url + path, params=params, timeout=TIMEOUT)


def items(server, **params) -> dict:
    response = get(server, f"/collections/{LAYER}/items", f="json", **params)
    assert response.status_code == 200, response.text
    return response.json()


def test_landing_page_and_conformance(server):
    landing = get(server, "/", f="json")
    assert landing.status_code == 200
    assert "Données géographiques ouvertes" in landing.json()["title"]
    conformance = get(server, "/conformance", f="json").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conformance
    assert get(server, "/openapi", f="json").status_code == 200


def test_collections_list_the_published_layer_in_french_by_default(server):
    collections = get(server, "/collections", f="json").json()["collections"]
    assert [c["id"] for c in collections] == [LAYER]  # catalogue layers never published are not served
    collection = collections[0]
    assert collection["title"] == "Défibrillateurs automatisés externes (DAE)"
    rels = {link["rel"]: link for link in collection["links"]}
    assert rels["license"]["href"] == "https://www.etalab.gouv.fr/licence-ouverte-open-licence"
    assert rels["describedby"]["href"].startswith("https://schema.data.gouv.fr/")
    bbox = collection["extent"]["spatial"]["bbox"][0]
    assert bbox == pytest.approx(list(server.frame.total_bounds))
    assert CRS_2154 in collection["crs"] and collection["storageCrs"].endswith("/OGC/1.3/CRS84")
    english = get(server, f"/collections/{LAYER}", f="json", lang="en").json()
    assert english["title"] == "Automated external defibrillators (AED)"


def test_items_are_geojson_with_number_matched(server):
    page = items(server)
    assert page["type"] == "FeatureCollection"
    assert page["numberMatched"] == len(server.frame) == server.store.count(LAYER)
    assert page["numberReturned"] == len(page["features"]) == 10  # default limit
    feature = page["features"][0]
    assert feature["geometry"]["type"] == "Point"
    assert isinstance(feature["properties"]["jours"], list)
    assert feature["properties"]["code_insee"].startswith("0") or feature["properties"]["code_insee"] == "83069"
    assert any(link["rel"] == "next" for link in page["links"])


def test_hits_select_and_skip_geometry(server):
    hits = items(server, resulttype="hits")
    assert hits["numberMatched"] == len(server.frame) and hits["features"] == []
    page = items(server, properties="nom", skipGeometry="true", limit=3)
    assert all(f["geometry"] is None and set(f["properties"]) == {"nom"} for f in page["features"])


def test_bbox_filters_like_geopandas(server):
    box = (5.5, 43.2, 6.3, 44.0)
    expected = set(server.frame.loc[server.frame.intersects(shapely.box(*box)), "id"])
    page = items(server, bbox=",".join(map(str, box)), limit=1000)
    assert {f["id"] for f in page["features"]} == expected
    assert page["numberMatched"] == len(expected) > 0


def test_paging_walk_returns_every_feature_exactly_once(server):
    seen: list[str] = []
    for offset in range(0, len(server.frame) + 20, 7):
        page = items(server, limit=7, offset=offset)
        seen.extend(f["id"] for f in page["features"])
    assert len(seen) == len(server.frame)
    assert set(seen) == set(server.frame["id"])


def test_sortby_and_property_filters(server):
    page = items(server, sortby="-rang", limit=100)
    ranks = [f["properties"]["rang"] for f in page["features"]]
    assert ranks == sorted(ranks, reverse=True)
    selected = items(server, code_insee="06088", limit=100)
    assert selected["numberMatched"] == int((server.frame["code_insee"] == "06088").sum())
    assert all(f["properties"]["code_insee"] == "06088" for f in selected["features"])


def test_one_item_and_unknown_item(server):
    response = get(server, f"/collections/{LAYER}/items/dae-004", f="json")
    assert response.status_code == 200
    feature = response.json()
    assert feature["id"] == "dae-004"
    assert feature["properties"]["nom"] == "Défibrillateur n°4"
    row = server.frame.set_index("id").loc["dae-004"]
    assert feature["geometry"]["coordinates"] == pytest.approx([row.geometry.x, row.geometry.y])
    assert get(server, f"/collections/{LAYER}/items/inconnu", f="json").status_code == 404
    assert get(server, "/collections/inconnue/items", f="json").status_code == 404


def test_supported_cql2_filter(server):
    page = items(server, filter="rang >= 5 AND code_insee IN ('06088','83069')", limit=1000)
    frame = server.frame
    expected = set(frame.loc[(frame["rang"] >= 5) & frame["code_insee"].isin(["06088", "83069"]), "id"])
    assert {f["id"] for f in page["features"]} == expected
    assert page["numberMatched"] == len(expected)


@pytest.mark.parametrize(
    "cql",
    [
        "S_INTERSECTS(nom, POINT(6 43.5))",  # spatial predicate on a property that is not the geometry
        "inconnu = 3",  # unknown property
        "rang = 'beaucoup'",  # wrong type
        "this is not CQL",  # unparsable (pygeoapi's own check)
    ],
)
def test_unsupported_filter_is_400_not_everything(server, cql):
    response = get(server, f"/collections/{LAYER}/items", f="json", filter=cql)
    assert response.status_code == 400, response.text[:500]
    assert "features" not in response.json()


def test_output_crs(server):
    row = server.frame.set_index("id").loc["dae-000"]
    to_lambert = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:2154")
    expected = to_lambert.transform(row.geometry.x, row.geometry.y)
    lambert = items(server, crs=CRS_2154, limit=1, sortby="id")
    assert lambert["features"][0]["id"] == "dae-000"
    assert lambert["features"][0]["geometry"]["coordinates"] == pytest.approx(expected, abs=0.01)
    latlon = items(server, crs=CRS_4326, limit=1, sortby="id")
    assert latlon["features"][0]["geometry"]["coordinates"] == pytest.approx([row.geometry.y, row.geometry.x])  # latitude first
    response = get(server, f"/collections/{LAYER}/items/dae-000", f="json", crs=CRS_2154)
    assert response.headers["Content-Crs"] == f"<{CRS_2154}>"
    assert response.json()["geometry"]["coordinates"] == pytest.approx(expected, abs=0.01)
    assert get(server, f"/collections/{LAYER}/items", f="json", crs="http://www.opengis.net/def/crs/EPSG/0/32631").status_code == 400


def test_republication_is_served_without_restart(server):
    smaller = server.frame.iloc[:5]
    server.store.publish(LAYER, smaller, {"licence": "lo-2.0"}, server.fields)
    try:
        for _ in range(4):  # every worker process sees it
            assert items(server, limit=1)["numberMatched"] == 5
        assert get(server, f"/collections/{LAYER}/items/dae-010", f="json").status_code == 404
    finally:
        server.store.publish(LAYER, server.frame, {"licence": "lo-2.0"}, server.fields)
    assert items(server, limit=1)["numberMatched"] == len(server.frame)


def test_owslib_client(server):
    features_module = pytest.importorskip("owslib.ogcapi.features")
    api = features_module.Features(server.url, timeout=TIMEOUT)
    assert LAYER in [c["id"] for c in api.collections()["collections"]]
    result = api.collection_items(LAYER, limit=5)
    assert result["numberMatched"] == len(server.frame)
    assert len(result["features"]) == 5
    assert api.collection_item(LAYER, "dae-001")["id"] == "dae-001"
