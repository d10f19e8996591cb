"""The bad-input table: every query parameter with malformed values, unknown parameters,
unknown resources — each answered with the right status and a JSON body that names the
parameter, never a 500 and never a traceback (real server, see conftest)."""

from __future__ import annotations

import pytest
import requests

LAYER = "defibrillateurs"
ITEMS = f"/collections/{LAYER}/items"
ITEM = f"/collections/{LAYER}/items/dae-001"
TIMEOUT = 10
L93 = "http://www.opengis.net/def/crs/EPSG/0/2154"
UTM31 = "http://www.opengis.net/def/crs/EPSG/0/32631"

# (path, query, parameter named in the body, words the French description must contain)
BAD_INPUT = [
    # bbox
    (ITEMS, {"bbox": "5,43,6"}, "bbox", "4 nombres"),
    (ITEMS, {"bbox": "5,43,6,44,7"}, "bbox", "4 nombres"),
    (ITEMS, {"bbox": "a,b,c,d"}, "bbox", "nombres"),
    (ITEMS, {"bbox": "5;43;6;44"}, "bbox", "4 nombres"),
    (ITEMS, {"bbox": ""}, "bbox", "4 nombres"),
    (ITEMS, {"bbox": "nan,43,6,44"}, "bbox", "nombres"),
    (ITEMS, {"bbox": "inf,43,6,44"}, "bbox", "nombres"),
    (ITEMS, {"bbox": "1e999,43,6,44"}, "bbox", "trop grands"),
    (ITEMS, {"bbox": "5,44,6,43"}, "bbox", "sud"),
    (ITEMS, {"bbox": "5,43,6,95"}, "bbox", "latitudes"),
    (ITEMS, {"bbox": "190,43,200,44"}, "bbox", "longitudes"),
    (ITEMS, {"bbox": "5,43,3,6,44,1"}, "bbox", "hauteur"),
    (ITEMS, {"bbox": "43,5,44,6,", "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"}, "bbox", "4 nombres"),
    (ITEMS, {"bbox": "95,5,96,6", "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"}, "bbox", "latitudes"),
    (ITEMS, {"bbox": "900000,6200000,800000,6300000", "bbox-crs": L93}, "bbox", "minimum"),
    (ITEMS, {"bbox": "0,0,1e15,1e15", "bbox-crs": L93}, "bbox", "domaine de validité"),
    # bbox-crs
    (ITEMS, {"bbox": "5,43,6,44", "bbox-crs": "EPSG:2154"}, "bbox-crs", "non proposé"),
    (ITEMS, {"bbox": "5,43,6,44", "bbox-crs": UTM31}, "bbox-crs", "non proposé"),
    (ITEMS, {"bbox-crs": L93}, "bbox-crs", "avec le paramètre bbox"),
    # crs
    (ITEMS, {"crs": "EPSG:4326"}, "crs", "non proposé"),
    (ITEMS, {"crs": UTM31}, "crs", "non proposé"),
    (ITEMS, {"crs": ""}, "crs", "non proposé"),
    (ITEM, {"crs": "4326"}, "crs", "non proposé"),
    # limit
    (ITEMS, {"limit": "0"}, "limit", "entier supérieur ou égal à 1"),
    (ITEMS, {"limit": "-5"}, "limit", "entier"),
    (ITEMS, {"limit": "dix"}, "limit", "entier"),
    (ITEMS, {"limit": "2.5"}, "limit", "entier"),
    (ITEMS, {"limit": "1e3"}, "limit", "entier"),
    (ITEMS, {"limit": ""}, "limit", "entier"),
    (ITEMS, {"limit": "١٠"}, "limit", "entier"),  # Arabic-Indic digits: int() would take them
    # offset
    (ITEMS, {"offset": "-1"}, "offset", "entier positif ou nul"),
    (ITEMS, {"offset": "abc"}, "offset", "entier"),
    (ITEMS, {"offset": "1.5"}, "offset", "entier"),
    (ITEMS, {"offset": "99999999999999999999999"}, "offset", "trop grand"),
    # datetime
    (ITEMS, {"datetime": "hier"}, "datetime", "RFC 3339"),
    (ITEMS, {"datetime": "2024-13-01"}, "datetime", "RFC 3339"),
    (ITEMS, {"datetime": "2024-05-01/2024-06-01/2024-07-01"}, "datetime", "RFC 3339"),
    (ITEMS, {"datetime": "2024-06-01/2024-05-01"}, "datetime", "après sa fin"),
    # properties
    (ITEMS, {"properties": "inconnue"}, "properties", "n'est pas une propriété"),
    (ITEMS, {"properties": "nom,,rang"}, "properties", "vide"),
    (ITEMS, {"properties": ""}, "properties", "vide"),
    # sortby
    (ITEMS, {"sortby": "inconnue"}, "sortby", "triable"),
    (ITEMS, {"sortby": "-inconnue"}, "sortby", "triable"),
    (ITEMS, {"sortby": "jours"}, "sortby", "triable"),  # a list has no order
    (ITEMS, {"sortby": " rang"}, "sortby", "%2B"),  # "+rang" typed unencoded
    (ITEMS, {"sortby": ""}, "sortby", "vide"),
    # filter / filter-lang / filter-crs
    (ITEMS, {"filter": "this is not CQL"}, "filter", "filter"),
    (ITEMS, {"filter": "rang >"}, "filter", "filter"),
    (ITEMS, {"filter": "((("}, "filter", "filter"),
    (ITEMS, {"filter": ""}, "filter", "vide"),
    (ITEMS, {"filter": " OR ".join(["rang = 1"] * 100)}, "filter", "trop imbriqué"),  # SQLite would overflow
    (ITEMS, {"filter": "{pas du json", "filter-lang": "cql2-json"}, "filter", "JSON"),
    (ITEMS, {"filter": "rang = 1", "filter-lang": "sql"}, "filter-lang", "cql2-text"),
    (ITEMS, {"filter": "rang = 1", "filter-lang": "CQL2-TEXT"}, "filter-lang", "cql2-text"),
    (ITEMS, {"filter": "rang = 1", "filter-crs": "EPSG:4326"}, "filter-crs", "non proposé"),
    # skipGeometry, resulttype, f
    (ITEMS, {"skipGeometry": "peut-être"}, "skipGeometry", "true ou false"),
    (ITEMS, {"skipGeometry": "2"}, "skipGeometry", "true ou false"),
    (ITEMS, {"resulttype": "tout"}, "resulttype", "results ou hits"),
    (ITEMS, {"f": "xml"}, "f", "format"),
    (ITEMS, {"f": ""}, "f", "format"),
    (ITEM, {"f": "csv"}, "f", "format"),
    ("/", {"f": "pdf"}, "f", "format"),
    (f"/collections/{LAYER}", {"f": "geojson"}, "f", "format"),
    # property filters: the value must read as the property's type
    (ITEMS, {"rang": "beaucoup"}, "rang", "un entier"),
    (ITEMS, {"rang": "1.5"}, "rang", "un entier"),
    (ITEMS, {"rang": "1e400"}, "rang", "un entier"),
    (ITEMS, {"acces": "peut-être"}, "acces", "true ou false"),
    # unknown parameters, on every resource (OGC /req/core/query-param-unknown)
    (ITEMS, {"foo": "bar"}, "foo", "paramètre inconnu"),
    (ITEMS, {"Limit": "5"}, "Limit", "paramètre inconnu"),
    (ITEMS, {"skipgeometry": "true"}, "skipgeometry", "paramètre inconnu"),
    (ITEMS, {"q": "mairie"}, "q", "paramètre inconnu"),
    (ITEM, {"limit": "5"}, "limit", "paramètre inconnu"),
    (ITEM, {"code_insee": "06088"}, "code_insee", "paramètre inconnu"),
    ("/", {"foo": "bar"}, "foo", "paramètre inconnu"),
    ("/conformance", {"limit": "5"}, "limit", "paramètre inconnu"),
    ("/collections", {"bbox": "5,43,6,44"}, "bbox", "paramètre inconnu"),
    (f"/collections/{LAYER}", {"foo": "bar"}, "foo", "paramètre inconnu"),
    (f"/collections/{LAYER}/queryables", {"foo": "bar"}, "foo", "paramètre inconnu"),
    (f"/collections/{LAYER}/queryables", {"properties": "inconnue"}, "properties", "n'est pas une propriété"),
    (f"/collections/{LAYER}/schema", {"limit": "1"}, "limit", "paramètre inconnu"),
    ("/openapi", {"foo": "bar"}, "foo", "paramètre inconnu"),
]

NOT_FOUND = [
    "/collections/inconnue",
    "/collections/inconnue/items",
    "/collections/inconnue/items/dae-001",
    "/collections/inconnue/queryables",
    "/collections/inconnue/schema",
    f"/collections/{LAYER}/items/inconnu",
    f"/collections/{LAYER}/items/%3Cscript%3E",
    "/nulle-part",
]


def _get(server, path: str, params=None, **kwargs) -> requests.Response:
    return requests.get(server.url + path, params=params, timeout=TIMEOUT, **kwargs)


def _log_size(server) -> int:
    return server.log.stat().st_size


def _log_since(server, offset: int) -> str:
    with server.log.open("rb") as handle:
        handle.seek(offset)
        return handle.read().decode("utf-8", errors="replace")


def _assert_json_error(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) >= {"code", "description"} and body["description"], body
    assert "Traceback" not in response.text and "File \"" not in response.text
    return body


@pytest.mark.parametrize(
    "path, query, parameter, words",
    BAD_INPUT,
    ids=[f"{path}?{'&'.join(f'{k}={v[:40]}' for k, v in query.items())}" for path, query, _, _ in BAD_INPUT],
)
def test_bad_input_is_400_naming_the_parameter(server, path, query, parameter, words):
    before = _log_size(server)
    response = _get(server, path, query)
    body = _assert_json_error(response, 400)
    assert body["code"] == "InvalidParameterValue"
    assert body["parameter"] == parameter, body
    assert words in body["description"], body["description"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    # Refused before reaching pygeoapi or the store: nothing in the server's error log.
    log = _log_since(server, before)
    assert "Traceback" not in log and "erreur interne" not in log, log[-2000:]


def test_repeated_parameter_is_400(server):
    response = requests.get(f"{server.url}{ITEMS}?limit=1&limit=2", timeout=TIMEOUT)
    body = _assert_json_error(response, 400)
    assert body["parameter"] == "limit" and "plusieurs fois" in body["description"]


def test_unknown_parameter_lists_the_accepted_ones(server):
    body = _assert_json_error(_get(server, ITEMS, {"bboxx": "5,43,6,44"}), 400)
    assert "bbox" in body["description"] and "propriétés de la collection" in body["description"]


@pytest.mark.parametrize("path", NOT_FOUND)
def test_unknown_collection_or_item_is_404_json(server, path):
    before = _log_size(server)
    body = _assert_json_error(_get(server, path, {"f": "json"} if "/items/" in path else None), 404)
    assert body["code"] == "NotFound"
    log = _log_since(server, before)
    assert "Traceback" not in log, log[-2000:]


def test_unknown_collection_wins_over_bad_parameters(server):
    body = _assert_json_error(_get(server, "/collections/inconnue/items", {"foo": "bar", "limit": "0"}), 404)
    assert "inconnue" in body["description"]


def test_method_not_allowed_is_json(server):
    response = requests.delete(server.url + "/collections", timeout=TIMEOUT)
    body = _assert_json_error(response, 405)
    assert body["code"] == "OperationNotSupported"


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "100000"},  # above the maximum: clamped, not refused
        {"limit": "1", "offset": "0"},
        {"bbox": "179,-10,-179,10"},  # crosses the antimeridian
        {"bbox": "5,43,0,6,44,100"},  # 6 numbers: heights ignored
        {"bbox": "43,5,44,7", "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"},
        {"bbox": "900000,6200000,1100000,6400000", "bbox-crs": L93},
        {"sortby": "-rang,nom", "properties": "nom,rang", "skipGeometry": "TRUE"},
        {"filter": "rang >= 5", "filter-lang": "cql2-text"},
        {"filter": '{"op": ">=", "args": [{"property": "rang"}, 5]}', "filter-lang": "cql2-json"},
        {"rang": "3", "acces": "true", "code_insee": "06088"},
        {"rang": "-9223372036854775808"},
        {"rang": "3.0", "acces": "1"},  # as GDAL's OAPIF driver writes them
        {"filter": " OR ".join(["rang = 1"] * 40)},
        {"resulttype": "hits"},
        {"jours": "lundi"},
    ],
)
def test_good_input_still_passes(server, query):
    response = _get(server, ITEMS, {"f": "json", **query})
    assert response.status_code == 200, response.text[:500]
    assert response.json()["type"] == "FeatureCollection"


def test_limit_above_maximum_is_clamped(server):
    page = _get(server, ITEMS, {"limit": "20000"}).json()
    assert page["numberReturned"] == len(server.frame)  # the layer is smaller than the maximum
