"""Spatial predicates in the store against shapely / pyproj on the same data: the R-tree
prefilter never loses a feature, the exact test decides, features without geometry are
neither inside nor outside, and spatial predicates combine with everything else."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from layers.store import And, Comparison, InvalidQueryError, Not, Or, Spatial
from layers.store.gpkg_spatial import distance_box

GEOD = pyproj.Geod(ellps="WGS84")
POLYGON = shapely.Polygon([(0.0, 44.5), (2.2, 44.3), (2.6, 46.1), (1.0, 46.6), (0.2, 45.9)])
SHAPES = {
    "polygon": POLYGON,
    "box on the grid": shapely.box(0.0, 45.0, 1.0, 46.0),  # points exactly on its edges
    "line": shapely.LineString([(-0.5, 44.2), (2.9, 46.8)]),
    "point": shapely.Point(1.0, 45.0),
    "nowhere": shapely.box(20.0, 10.0, 21.0, 11.0),
}
PREDICATES = {
    "intersects": shapely.intersects,
    "within": shapely.within,
    "contains": shapely.contains,
    "disjoint": shapely.disjoint,
    "touches": shapely.touches,
    "crosses": shapely.crosses,
    "overlaps": shapely.overlaps,
    "equals": shapely.equals,
}


def ids(store, **kwargs) -> list[str]:
    return [f["id"] for f in store.query("aleatoire", limit=100_000, **kwargs).features]


def expected(frame, predicate, literal) -> set[str]:
    geometries = frame.geometry.values
    present = ~shapely.is_missing(geometries)
    keep = np.zeros(len(frame), dtype=bool)
    keep[present] = PREDICATES[predicate](geometries[present], literal)
    return set(frame.loc[keep, "id"])


@pytest.mark.parametrize("predicate", list(PREDICATES))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_predicates_match_shapely(random_layer, predicate, shape):
    store, frame = random_layer
    literal = SHAPES[shape]
    want = expected(frame, predicate, literal)
    got = ids(store, where=Spatial(predicate, literal))
    assert len(got) == len(set(got))
    assert set(got) == want
    assert store.query("aleatoire", where=Spatial(predicate, literal), limit=1).number_matched == len(want)


def test_features_without_geometry_are_neither_inside_nor_outside(random_layer):
    store, frame = random_layer
    missing = set(frame.loc[shapely.is_missing(frame.geometry.values), "id"])
    assert missing
    inside = set(ids(store, where=Spatial("intersects", POLYGON)))
    outside = set(ids(store, where=Not(Spatial("intersects", POLYGON))))
    assert inside.isdisjoint(outside) and not (missing & (inside | outside))
    assert inside | outside | missing == set(frame["id"])
    assert outside == set(ids(store, where=Spatial("disjoint", POLYGON)))
    assert set(ids(store, where=Not(Spatial("disjoint", POLYGON)))) == inside
    # NOT pushed through AND / OR keeps the same answer (De Morgan).
    either = Or((Spatial("intersects", POLYGON), Comparison("rang", "<", 10)))
    neither = set(ids(store, where=Not(either)))
    assert neither == set(ids(store, where=And((Not(Spatial("intersects", POLYGON)), Not(Comparison("rang", "<", 10))))))


def test_spatial_combines_with_bbox_properties_sort_and_pages(random_layer):
    store, frame = random_layer
    box = (0.5, 44.0, 3.0, 47.0)
    where = And((Spatial("intersects", POLYGON), Comparison("actif", "=", True)))
    mask = frame.geometry.intersects(POLYGON) & frame.geometry.intersects(shapely.box(*box)) & frame["actif"]
    want = frame.loc[mask.fillna(False)]
    result = store.query("aleatoire", bbox=box, where=where, sortby=["-valeur"], limit=100_000)
    assert result.number_matched == len(want)
    values = [p["valeur"] for p in result.properties]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=True)
    seen, offset = [], 0
    while page := store.query("aleatoire", bbox=box, where=where, limit=13, offset=offset).ids:
        seen += page
        offset += 13
    assert sorted(seen) == sorted(want["id"])


def test_dwithin_is_geodesic_metres(random_layer):
    store, frame = random_layer
    centre, metres = (1.05, 45.55), 42_000.0
    points = frame[shapely.get_type_id(frame.geometry.values) == 0]
    _, _, distance = GEOD.inv(np.full(len(points), centre[0]), np.full(len(points), centre[1]),
                              points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
    clear = np.abs(distance - metres) > 1.0  # a metre away from the threshold either way
    got = set(ids(store, where=Spatial("dwithin", shapely.Point(*centre), metres)))
    assert set(points.loc[clear & (distance <= metres), "id"]) <= got
    assert not (set(points.loc[clear & (distance > metres), "id"]) & got)
    # Lines are in when some part of them comes within the distance.
    lines = frame[shapely.get_type_id(frame.geometry.values) == 1]
    near = [row.id for row in lines.itertuples() if shapely.distance(row.geometry, shapely.Point(*centre)) < 0.2]
    assert set(near) <= got


def test_distance_box_holds_the_whole_disc():
    for lat in (0.0, 45.0, 70.0, -60.0):
        box = distance_box((3.0, lat, 3.0, lat), 50_000.0)
        for azimuth in range(0, 360, 10):
            lon, lat2, _ = GEOD.fwd(3.0, lat, azimuth, 50_000.0)
            assert box[0] <= lon <= box[2] and box[1] <= lat2 <= box[3]
    assert distance_box((179.9, 0.0, 179.9, 0.0), 50_000.0)[0] == -180.0  # across the antimeridian
    assert distance_box((0.0, 89.9, 0.0, 89.9), 50_000.0)[0] == -180.0  # the pole is within reach


@pytest.mark.parametrize(
    "where",
    [
        Spatial("dwithin", shapely.Point(1, 45), -5.0),
        Spatial("dwithin", shapely.Point(1, 45), None),
        Spatial("intersects", shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])),  # self-intersecting
        Spatial("relate", shapely.Point(1, 45)),
        Spatial("intersects", "POINT(1 45)"),
    ],
)
def test_invalid_spatial_filters_are_refused(random_layer, where):
    store, _ = random_layer
    with pytest.raises(InvalidQueryError):
        store.query("aleatoire", where=where)


def test_point_layers_decided_from_the_rtree_match_shapely(store):
    """Point layers against polygons take the R-tree-only path: same answers, edges included."""
    rng = np.random.default_rng(4)
    x = np.round(rng.uniform(0.0, 3.0, 3000), 2)
    y = np.round(rng.uniform(44.0, 47.0, 3000), 2)
    points = shapely.points(x, y)
    points[:4] = shapely.points([0.5, 2.0, 1.25, 2.5], [45.0, 45.0, 45.5, 46.0])  # on the edges and a vertex
    frame = gpd.GeoDataFrame({"id": [f"p{i}" for i in range(len(x))]}, geometry=points, crs="EPSG:4326")
    store.publish("points", frame, {}, {})
    area = shapely.MultiPolygon([
        shapely.Polygon([(0.5, 45.0), (2.0, 45.0), (2.5, 46.0), (1.0, 46.5)], [[(1.0, 45.4), (1.5, 45.4), (1.25, 45.5)]]),
        shapely.box(2.6, 44.1, 2.9, 44.4),
    ])
    for op, test in (("intersects", shapely.intersects), ("within", shapely.within), ("disjoint", shapely.disjoint)):
        want = set(frame.loc[test(frame.geometry.values, area), "id"])
        got = {f["id"] for f in store.query("points", where=Spatial(op, area), limit=10_000).features}
        assert got == want, op
        on_boundary = {"p0", "p1", "p2"}  # a vertex, a vertex, the hole's vertex
        assert on_boundary <= got if op == "intersects" else not (on_boundary & got)
