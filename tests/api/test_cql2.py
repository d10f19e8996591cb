"""CQL2 filters through the real server: text and JSON (GET and POST), every supported
operator checked against pandas / shapely / pyproj on the published frame, combined with
bbox, property filters, sorting and paging — and a 400 naming the part for anything the
server does not evaluate, never a silently ignored filter."""

from __future__ import annotations

import json

import numpy as np
import pyproj
import pytest
import requests
import shapely

LAYER = "defibrillateurs"
ITEMS = f"/collections/{LAYER}/items"
TIMEOUT = 15
CRS_2154 = "http://www.opengis.net/def/crs/EPSG/0/2154"
CRS_4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
GEOD = pyproj.Geod(ellps="WGS84")
# Vertices off the 0.01° grid of the test points: no point lies exactly on an edge.
POLYGON = shapely.Polygon([(5.2031, 43.1017), (6.6043, 43.3021), (6.4057, 44.3033), (5.5069, 44.0041)])


def get(server, **params) -> requests.Response:
    return requests.get(server.url + ITEMS, params={"f": "json", "limit": 1000, **params}, timeout=TIMEOUT)


def ids(server, **params) -> set[str]:
    response = get(server, **params)
    assert response.status_code == 200, response.text[:500]
    page = response.json()
    found = {f["id"] for f in page["features"]}
    assert page["numberMatched"] == len(found) == page["numberReturned"]
    return found


def where(frame, mask) -> set[str]:
    return set(frame.loc[np.asarray(mask, dtype=bool), "id"])


def inside(frame, geometry) -> np.ndarray:
    return frame.geometry.intersects(geometry).to_numpy()


# -- scalar predicates, text and JSON -----------------------------------------------------

SCALAR_CASES = [
    ("rang = 3", {"op": "=", "args": [{"property": "rang"}, 3]}, lambda f: f["rang"] == 3),
    ("rang <> 3", {"op": "<>", "args": [{"property": "rang"}, 3]}, lambda f: f["rang"] != 3),
    ("7 > rang", {"op": ">", "args": [7, {"property": "rang"}]}, lambda f: f["rang"] < 7),
    ("rang >= 2.5", {"op": ">=", "args": [{"property": "rang"}, 2.5]}, lambda f: f["rang"] >= 2.5),
    ("code_insee = '06088'", {"op": "=", "args": [{"property": "code_insee"}, "06088"]}, lambda f: f["code_insee"] == "06088"),
    ("acces = TRUE", {"op": "=", "args": [{"property": "acces"}, True]}, lambda f: f["acces"]),
    ("nom LIKE 'Défibrillateur n°1%'", {"op": "like", "args": [{"property": "nom"}, "Défibrillateur n°1%"]},
     lambda f: f["nom"].str.startswith("Défibrillateur n°1")),
    ("nom LIKE '%n°_'", {"op": "like", "args": [{"property": "nom"}, "%n°_"]}, lambda f: f["nom"].str.fullmatch(r".*n°.")),
    ("code_insee IN ('06088', '83069')", {"op": "in", "args": [{"property": "code_insee"}, ["06088", "83069"]]},
     lambda f: f["code_insee"].isin(["06088", "83069"])),
    ("rang NOT IN (1, 2, 3)", {"op": "not", "args": [{"op": "in", "args": [{"property": "rang"}, [1, 2, 3]]}]},
     lambda f: ~f["rang"].isin([1, 2, 3])),
    ("rang BETWEEN 2 AND 5", {"op": "between", "args": [{"property": "rang"}, 2, 5]}, lambda f: f["rang"].between(2, 5)),
    ("jours IS NOT NULL AND rang < 2",
     {"op": "and", "args": [{"op": "not", "args": [{"op": "isNull", "args": [{"property": "jours"}]}]},
                            {"op": "<", "args": [{"property": "rang"}, 2]}]},
     lambda f: f["jours"].notna() & (f["rang"] < 2)),
    ("NOT (rang < 5) OR acces = FALSE",
     {"op": "or", "args": [{"op": "not", "args": [{"op": "<", "args": [{"property": "rang"}, 5]}]},
                           {"op": "=", "args": [{"property": "acces"}, False]}]},
     lambda f: (f["rang"] >= 5) | ~f["acces"]),
    ("(rang > 2 AND rang < 8) AND NOT code_insee = '06004'",
     {"op": "and", "args": [{"op": ">", "args": [{"property": "rang"}, 2]}, {"op": "<", "args": [{"property": "rang"}, 8]},
                            {"op": "not", "args": [{"op": "=", "args": [{"property": "code_insee"}, "06004"]}]}]},
     lambda f: (f["rang"] > 2) & (f["rang"] < 8) & (f["code_insee"] != "06004")),
]


@pytest.mark.parametrize("text, expression, select", SCALAR_CASES, ids=[case[0] for case in SCALAR_CASES])
def test_scalar_predicates_text_json_and_post(server, text, expression, select):
    frame = server.frame
    want = where(frame, select(frame))
    assert want, "the case must select something"
    assert ids(server, filter=text) == want
    assert ids(server, filter=text, **{"filter-lang": "cql2-text"}) == want
    assert ids(server, filter=json.dumps(expression), **{"filter-lang": "cql2-json"}) == want
    posted = requests.post(server.url + ITEMS, params={"f": "json", "limit": 1000}, json=expression, timeout=TIMEOUT)
    assert posted.status_code == 200, posted.text[:500]
    assert {f["id"] for f in posted.json()["features"]} == want


# -- spatial predicates --------------------------------------------------------------------


def test_s_intersects_polygon_text_and_json(server):
    want = where(server.frame, inside(server.frame, POLYGON))
    assert ids(server, filter=f"S_INTERSECTS(geometry, {POLYGON.wkt})") == want
    expression = {"op": "s_intersects", "args": [{"property": "geometry"}, shapely.geometry.mapping(POLYGON)]}
    assert ids(server, filter=json.dumps(expression), **{"filter-lang": "cql2-json"}) == want


def test_bbox_literals_and_the_ecql_bbox_predicate(server):
    box = (5.5, 43.2, 6.3, 44.0)
    want = where(server.frame, inside(server.frame, shapely.box(*box)))
    assert want
    assert ids(server, filter=f"S_INTERSECTS(geom, BBOX({', '.join(map(str, box))}))") == want
    assert ids(server, filter=f"BBOX(geometry, {', '.join(map(str, box))})") == want
    expression = {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": list(box)}]}
    assert ids(server, filter=json.dumps(expression), **{"filter-lang": "cql2-json"}) == want


def test_s_within_and_negations(server):
    frame = server.frame
    within = where(frame, frame.geometry.within(POLYGON))
    assert ids(server, filter=f"S_WITHIN(geometry, {POLYGON.wkt})") == within
    assert ids(server, filter=f"NOT S_INTERSECTS(geometry, {POLYGON.wkt})") == where(frame, ~inside(frame, POLYGON))
    assert ids(server, filter=f"S_DISJOINT(geometry, {POLYGON.wkt})") == where(frame, ~inside(frame, POLYGON))


@pytest.mark.parametrize("metres", [5_000, 30_000, 80_000])
def test_s_dwithin_in_metres_text_and_json(server, metres):
    frame = server.frame
    centre = (6.0, 43.7)
    _, _, distance = GEOD.inv(np.full(len(frame), centre[0]), np.full(len(frame), centre[1]),
                              frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())
    want = where(frame, distance <= metres)
    text = f"S_DWITHIN(geometry, POINT({centre[0]} {centre[1]}), {metres})"
    assert ids(server, filter=text) == want
    expression = {"op": "s_dwithin", "args": [{"property": "geometry"}, {"type": "Point", "coordinates": list(centre)}, metres]}
    assert ids(server, filter=json.dumps(expression), **{"filter-lang": "cql2-json"}) == want
    assert ids(server, filter=f"NOT {text}") == where(frame, distance > metres)


def test_filter_crs_lambert_93_and_lat_lon(server):
    want = where(server.frame, inside(server.frame, POLYGON))
    to_l93 = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:2154", always_xy=True)
    # The server brings the vertices back to longitude/latitude: the same polygon.
    in_l93 = shapely.transform(POLYGON, lambda xy: np.column_stack(to_l93.transform(xy[:, 0], xy[:, 1])))
    assert ids(server, filter=f"S_INTERSECTS(geometry, {in_l93.wkt})", **{"filter-crs": CRS_2154}) == want
    lat_lon = shapely.transform(POLYGON, lambda xy: xy[:, ::-1])  # EPSG:4326 is latitude first
    assert ids(server, filter=f"S_INTERSECTS(geometry, {lat_lon.wkt})", **{"filter-crs": CRS_4326}) == want


# -- combined with the other parameters ----------------------------------------------------


def test_filter_with_bbox_properties_sort_and_paging(server):
    frame = server.frame
    box = (5.2, 43.0, 6.8, 44.4)
    mask = inside(frame, shapely.box(*box)) & (frame["code_insee"] == "06088").to_numpy() & (frame["rang"] >= 3).to_numpy()
    want = where(frame, mask)
    params = {"filter": "rang >= 3", "bbox": ",".join(map(str, box)), "code_insee": "06088", "sortby": "-rang"}
    page = get(server, **params).json()
    assert {f["id"] for f in page["features"]} == want and page["numberMatched"] == len(want) > 3
    ranks = [f["properties"]["rang"] for f in page["features"]]
    assert ranks == sorted(ranks, reverse=True)
    seen, offset = [], 0
    while True:
        page = get(server, limit=3, offset=offset, **params).json()
        assert page["numberMatched"] == len(want)
        seen += [f["id"] for f in page["features"]]
        if not any(link["rel"] == "next" for link in page["links"]):
            break
        offset += 3
    assert len(seen) == len(set(seen)) and set(seen) == want


def test_hits_counts_the_filter(server):
    frame = server.frame
    page = get(server, filter=f"S_INTERSECTS(geometry, {POLYGON.wkt}) AND acces = TRUE", resulttype="hits").json()
    assert page["features"] == []
    assert page["numberMatched"] == len(where(frame, inside(frame, POLYGON) & frame["acces"].to_numpy()))


# -- refused, with the part named ----------------------------------------------------------

REFUSED = [
    ("inconnu = 3", "inconnu"),
    ("rang = 'beaucoup'", "rang"),
    ("nom = 3", "nom"),
    ("acces = 'oui'", "acces"),
    ("jours = 'lundi'", "jours"),
    ("rang LIKE '1%'", "LIKE"),
    ("rang = nom", "propriétés"),
    ("rang + 1 > 2", "rang"),
    ("CASEI(nom) = 'a'", "casei"),
    ("nom LIKE CASEI('a%')", "CASEI"),
    ("T_AFTER(rang, TIMESTAMP('2020-01-01T00:00:00Z'))", "filter"),
    ("S_INTERSECTS(nom, POINT(6 43.5))", "géométrie"),
    ("S_INTERSECTS(geometry, geometry)", "littérale"),
    ("S_DWITHIN(geometry, POINT(6 43.5), -10)", "distance"),
    ("S_INTERSECTS(geometry, POLYGON((5 43, 6 44, 6 43, 5 44, 5 43)))", "invalide"),
    ("this is not CQL", "colonne"),
    ("rang >", "filter"),
]


@pytest.mark.parametrize("cql, named", REFUSED, ids=[case[0] for case in REFUSED])
def test_unsupported_filters_are_400_naming_the_part(server, cql, named):
    response = get(server, filter=cql)
    assert response.status_code == 400, response.text[:500]
    body = response.json()
    assert "features" not in body
    assert body["description"].startswith("filter") or body.get("parameter") == "filter", body
    assert named.lower() in body["description"].lower(), body["description"]


def test_unsupported_json_filter_is_400(server):
    expression = {"op": "a_contains", "args": [{"property": "jours"}, ["lundi"]]}
    response = get(server, filter=json.dumps(expression), **{"filter-lang": "cql2-json"})
    assert response.status_code == 400, response.text[:500]
    assert "features" not in response.json()


# -- the parser and the translation, without a server --------------------------------------


def test_parser_extensions():
    from pygeofilter import ast

    from server.cql import to_where
    from server.cql_parse import FilterSyntaxError, parse
    from layers.store import Comparison, Spatial

    fields = {"rang": "integer", "nom": "string"}
    text = to_where(parse("S_DWITHIN(geometry, POINT(6 43.5), 250)"), fields)
    as_json = to_where(parse('{"op": "s_dwithin", "args": [{"property": "geom"}, '
                             '{"type": "Point", "coordinates": [6, 43.5]}, 250]}'), fields)
    assert text == as_json == Spatial("dwithin", shapely.Point(6, 43.5), 250.0)
    # CQL2 JSON bbox is [west, south, east, north] (pygeofilter 0.4 mixes the axes up).
    box = to_where(parse('{"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [5, 43, 6, 44]}]}'), fields)
    assert box.geometry.equals(shapely.box(5, 43, 6, 44))
    assert to_where(parse('{"op": "between", "args": [{"property": "rang"}, 2, 5]}'), fields) == Comparison("rang", "between", (2, 5))
    assert to_where(parse("S_WITHIN(POINT(6 43.5), geometry)"), fields).op == "contains"  # turned around
    broken = parse("rang >= (")
    assert isinstance(broken, FilterSyntaxError) and "colonne" in broken.message
    assert isinstance(parse("{not json", "cql2-json"), FilterSyntaxError)
    assert isinstance(parse("rang = 1"), ast.Equal)
