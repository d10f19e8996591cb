"""The PostGIS store answers exactly as the GeoPackage store (the reference), query by query.

The same frames are published to both stores; every query of the table below must give
the same ids in the same order, the same properties (values and JSON types), the same
geometries, the same ``numberMatched`` — or the same refusal (``InvalidQueryError`` with
the same message). The GeoPackage store itself is checked against geopandas in
tests/store, so together they pin the PostGIS store's semantics.
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest
import shapely

from layers.store import And, Comparison, GeoPackageStore, InvalidQueryError, Not, Or, Spatial
from layers.store.nearest import nearest_features
from layers.store.postgis import PostGISStore
from tests.store.conftest import RANDOM_FIELDS, random_frame

from .conftest import TYPED_FIELDS, drop_schema, make_typed_frame, schema_url

BOXES = [
    (0.0, 45.0, 1.0, 46.0),  # edges on the 0.1° grid: points exactly on the border
    (-0.35, 44.05, 2.55, 46.95),
    (2.0, 44.0, 2.0, 47.0),  # a vertical line: only points with x == 2.0 and crossing lines
    (1.0, 45.0, 1.0, 45.0),  # a point
    (10.0, 10.0, 11.0, 11.0),  # nothing there
    (-180.0, -90.0, 180.0, 90.0),  # the whole layer
    (-1.05, 43.95, 3.05, 47.05),  # just around the extent
    (2.5, 44.0, 0.0, 47.0),  # crosses the antimeridian
    (0, 45, -5, 1, 46, 5),  # six values
]

WHERE_TREE = And((
    Or((Comparison("nom", "like", "%n%"), Comparison("nom", "isnull"))),
    Comparison("valeur", "between", (0.2, 0.6)),
    Not(Comparison("rang", "in", [1, 2, 3])),
))

RANDOM_QUERIES: list[dict] = [
    {},
    {"limit": 0},
    {"limit": 5, "offset": 1495},
    {"limit": 10, "offset": 5000},
    {"limit": 100_000},
    {"count": False, "limit": 7},
    *({"bbox": box, "limit": 100_000} for box in BOXES),
    *({"bbox": box, "limit": 3, "offset": 2} for box in BOXES[:3]),
    *({"sortby": keys, "limit": 100_000} for keys in (
        ["rang"], ["-rang"], ["nom", "-valeur"], ["-actif", "rang"], ["+id"], ["-id"], ["valeur"], ["-nom"],
    )),
    {"sortby": ["-valeur"], "limit": 25, "offset": 100},
    {"sortby": ["nom"], "bbox": BOXES[1], "limit": 40, "offset": 20},
    {"properties": {"nom": "Céline"}, "limit": 100_000},
    {"properties": [("rang", "7")], "limit": 100_000},
    {"properties": [("rang", 7.0)], "limit": 100_000},
    {"properties": {"actif": "true"}, "limit": 100_000},
    {"properties": {"actif": "non"}, "bbox": BOXES[1], "limit": 5},
    {"properties": [("nom", "Anne"), ("actif", True)], "sortby": ["-rang"], "limit": 100_000},
    {"where": WHERE_TREE, "limit": 100_000},
    {"where": WHERE_TREE, "bbox": BOXES[1], "sortby": ["-valeur", "nom"], "limit": 100_000},
    {"where": Comparison("nom", "like", "b%"), "limit": 100_000},
    {"where": Comparison("nom", "like", "B%"), "limit": 100_000},
    {"where": Comparison("nom", "like", "_runo"), "limit": 100_000},
    {"where": Comparison("nom", "like", "C\\%"), "limit": 100_000},
    {"where": Comparison("nom", "in", []), "limit": 100_000},
    {"where": Comparison("nom", "in", ["Anne", "david", None]), "limit": 100_000},
    {"where": Not(Comparison("nom", "isnull")), "limit": 100_000},
    {"where": Comparison("nom", "<", "bruno"), "limit": 100_000},  # byte order: "Céline" < "bruno"
    {"where": Comparison("nom", ">=", "a"), "limit": 100_000},
    {"where": Comparison("nom", "<>", "Anne"), "limit": 100_000},
    {"where": Comparison("rang", ">", 45), "limit": 100_000},
    {"where": Comparison("rang", "<=", "3"), "limit": 100_000},
    {"where": Comparison("valeur", "<", 0.1), "sortby": ["valeur"], "limit": 100_000},
    {"where": Comparison("actif", "=", False), "limit": 100_000},
    {"where": Comparison("rang", "between", ("10", 12)), "limit": 100_000},
    {"where": Comparison("rang", "=", None), "limit": 100_000},
    {"where": And(()), "limit": 3},
    {"where": Or(()), "limit": 3},
    {"where": Or((Comparison("id", "=", "f00007"), Comparison("id", "in", ["f00010", "f01499", "zzz"]))), "limit": 10},
    {"select": ["valeur"], "skip_geometry": True, "limit": 30},
    {"select": ["actif", "nom"], "limit": 30},
    {"skip_geometry": True, "sortby": ["rang"], "limit": 30},
    *({"where": where, "limit": 100_000, "sortby": ["-valeur"]} for where in (
        Spatial("intersects", shapely.box(0.0, 45.0, 1.0, 46.0)),
        Spatial("intersects", shapely.Polygon([(0, 44), (2.5, 47), (2.5, 44)])),
        Spatial("within", shapely.box(0.0, 45.0, 1.0, 46.0)),
        Spatial("within", shapely.Point(1.0, 45.0).buffer(0.5)),
        Spatial("disjoint", shapely.box(0.0, 45.0, 1.0, 46.0)),
        Not(Spatial("intersects", shapely.box(0.0, 45.0, 1.0, 46.0))),
        Not(Spatial("disjoint", shapely.box(0.0, 45.0, 1.0, 46.0))),
        Spatial("contains", shapely.Point(0.0, 45.0)),
        Spatial("equals", shapely.Point(1.5, 45.5)),
        Spatial("crosses", shapely.LineString([(0.0, 44.0), (0.0, 47.0)])),
        Spatial("touches", shapely.box(1.0, 45.0, 1.5, 45.5)),
        Spatial("overlaps", shapely.box(0.0, 45.0, 1.0, 46.0)),
        Spatial("dwithin", shapely.Point(1.0, 45.5), 20_000.0),
        Spatial("dwithin", shapely.Point(1.0, 45.5), 0.0),
        Spatial("dwithin", shapely.LineString([(0.3, 44.2), (2.7, 46.4)]), 3_000.0),
        Spatial("intersects", shapely.Polygon()),
        Spatial("disjoint", shapely.Point()),
        Or((Spatial("dwithin", shapely.Point(0.0, 45.0), 10_000.0), Comparison("rang", "<", 2))),
        And((Not(Spatial("within", shapely.box(-1, 44, 1, 46))), Comparison("nom", "like", "%e%"))),
    )),
    {"where": Spatial("intersects", shapely.box(0.0, 45.0, 1.0, 46.0)), "bbox": BOXES[1], "limit": 20, "offset": 10},
    # refused, with the same message
    {"where": Spatial("within", shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]))},  # self-intersecting
    {"where": Spatial("dwithin", shapely.Point(0, 45), -1.0)},
    {"where": Spatial("dwithin", shapely.Point(0, 45))},
    {"where": Spatial("near", shapely.Point(0, 45))},
    {"where": Spatial("intersects", "POINT (0 45)")},
    {"sortby": ["inconnu"]},
    {"properties": {"inconnu": "1"}},
    {"properties": {"rang": "pas un nombre"}},
    {"properties": {"rang": "1.5"}},
    {"properties": {"actif": "peut-être"}},
    {"properties": {"valeur": True}},
    {"select": ["inconnu"]},
    {"bbox": (1, 2, 3)},
    {"bbox": (0, 47, 1, 46)},
    {"where": Comparison("rang", "like", "1%")},
    {"where": Comparison("inconnu", "isnull")},
    {"limit": -1},
    {"offset": -3},
]

TYPED_QUERIES: list[dict] = [
    {},
    *({"sortby": [key]} for key in (
        "date_pose", "-date_pose", "maj", "-maj", "jours", "-jours", "ouvert", "-ouvert", "hauteur", "code_insee",
    )),
    {"where": Comparison("date_pose", "=", "2024-01-02")},
    {"where": Comparison("date_pose", ">", "2000-01-01")},
    {"where": Comparison("date_pose", "between", ("1999-12-31", "2023-05-06"))},
    {"where": Comparison("date_pose", "like", "20%")},
    {"where": Comparison("maj", "like", "2024-0%")},
    {"where": Comparison("maj", ">=", "2024-01-01T00:00:00Z")},
    {"where": Comparison("maj", "=", "2024-06-30T23:59:59Z")},
    {"where": Comparison("jours", "isnull")},
    {"where": Not(Comparison("jours", "isnull"))},
    {"where": Comparison("jours", "=", "lundi")},  # the list holds the value
    {"where": Not(Comparison("jours", "=", "lundi"))},  # missing lists included, as in SQLite
    {"properties": {"jours": "dimanche"}},
    {"where": Comparison("jours", "<>", "lundi")},  # refused: lists take null tests and = only
    {"where": Comparison("nombre", "<", 2.5)},  # a typed number literal on an integer field
    {"where": Comparison("nombre", "in", [1.0, 3])},
    {"where": Comparison("jours", "like", "%lundi%")},  # refused
    {"where": Comparison("code_insee", "like", "0%")},
    {"where": Comparison("code_insee", "=", 6000)},  # text: "6000" ≠ "06000"
    {"where": Comparison("hauteur", "in", [1.5, "2", -0.25])},
    {"where": Comparison("ouvert", "in", ["oui", "faux"])},
    {"bbox": (2.0, 42.0, 9.0, 48.85)},
    {"select": ["jours", "maj"]},
]


def _outcome(store, layer: str, kwargs: dict):
    try:
        return store.query(layer, **kwargs)
    except InvalidQueryError as exc:
        return ("refused", exc.message)


def assert_same(gpkg, pg, layer: str, kwargs: dict) -> None:
    expected, got = _outcome(gpkg, layer, kwargs), _outcome(pg, layer, kwargs)
    if isinstance(expected, tuple) or isinstance(got, tuple):
        assert got == expected, kwargs
        return
    assert got.ids == expected.ids, kwargs
    assert got.number_matched == expected.number_matched, kwargs
    assert got.with_geometry == expected.with_geometry
    assert got.properties == expected.properties, kwargs
    for a, b in zip(got.properties, expected.properties):  # same JSON types, not only equal values
        assert {k: type(v) for k, v in a.items()} == {k: type(v) for k, v in b.items()}
    assert shapely.to_wkb(got.geometries).tolist() == shapely.to_wkb(expected.geometries).tolist(), kwargs
    assert got.features == expected.features


@pytest.fixture(scope="module")
def stores(pg_cluster, tmp_path_factory):
    schema = f"parity_{uuid.uuid4().hex[:8]}"
    pg = PostGISStore(schema_url(pg_cluster.url, schema))
    gpkg = GeoPackageStore(tmp_path_factory.mktemp("parity") / "data")
    frame = random_frame()
    for store in (gpkg, pg):
        store.publish("aleatoire", frame, {"licence": "lo-2.0"}, RANDOM_FIELDS)
    yield gpkg, pg, frame
    pg.close()
    gpkg.close()
    drop_schema(pg_cluster.url, schema)


@pytest.fixture(scope="module")
def typed_stores(stores):
    gpkg, pg, _ = stores
    for store in (gpkg, pg):
        store.publish("types", make_typed_frame(), {"licence": "lo-2.0"}, TYPED_FIELDS)
    return gpkg, pg


@pytest.mark.parametrize("kwargs", RANDOM_QUERIES, ids=lambda k: repr(k)[:80])
def test_query_parity(stores, kwargs):
    gpkg, pg, _ = stores
    assert_same(gpkg, pg, "aleatoire", kwargs)


@pytest.mark.parametrize("kwargs", TYPED_QUERIES, ids=lambda k: repr(k)[:80])
def test_typed_query_parity(typed_stores, kwargs):
    gpkg, pg = typed_stores
    assert_same(gpkg, pg, "types", kwargs)


def test_paging_walk_parity(stores):
    gpkg, pg, frame = stores
    seen: list[str] = []
    for offset in range(0, len(frame) + 97, 97):
        page = pg.query("aleatoire", limit=97, offset=offset, sortby=["nom", "-rang"])
        assert page.ids == gpkg.query("aleatoire", limit=97, offset=offset, sortby=["nom", "-rang"]).ids
        assert page.number_matched == len(frame)
        seen.extend(page.ids)
    assert len(seen) == len(frame) and set(seen) == set(frame["id"])


def test_bbox_matches_geopandas(stores):
    """Not only the same as the GeoPackage: right (points on the edges included)."""
    _, pg, frame = stores
    for box in BOXES[:7]:
        expected = set(frame.loc[frame.intersects(shapely.box(*box)), "id"])
        assert set(pg.query("aleatoire", bbox=box, limit=100_000).ids) == expected, box


def test_get_count_metadata_parity(stores, typed_stores):
    gpkg, pg, frame = stores
    for fid in ("f00000", "f00042", "f01499", "absent", "", "f00042' OR '1'='1"):
        assert pg.get("aleatoire", fid) == gpkg.get("aleatoire", fid)
    assert pg.count("aleatoire") == gpkg.count("aleatoire") == len(frame)
    for layer in ("aleatoire", "types"):
        a, b = pg.metadata(layer), gpkg.metadata(layer)
        for key in ("ingested_at", "published_at", "store"):
            a.pop(key), b.pop(key)
        assert a == b
        assert list(a["field_types"]) == list(b["field_types"])  # column order kept
    assert pg.published() == gpkg.published() == ["aleatoire", "types"]
    assert pg.metadata("jamais") is None and pg.metadata("../x") is None


def test_read_layer_parity(stores, typed_stores):
    gpkg, pg, _ = stores
    typed_gpkg, typed_pg = typed_stores
    for a_store, b_store, layer in ((pg, gpkg, "aleatoire"), (typed_pg, typed_gpkg, "types")):
        got, expected = a_store.read_layer(layer), b_store.read_layer(layer)
        assert list(got.columns) == list(expected.columns)
        assert got.crs.to_epsg() == 4326
        pd.testing.assert_frame_equal(
            pd.DataFrame(got.drop(columns="geometry")), pd.DataFrame(expected.drop(columns="geometry")),
            check_dtype=False,
        )
        assert shapely.to_wkb(np.asarray(got.geometry.values)).tolist() == shapely.to_wkb(
            np.asarray(expected.geometry.values)
        ).tolist()


def _gpkg_nearest(store: GeoPackageStore, layer: str, lon: float, lat: float, **kwargs):
    if hasattr(store, "nearest"):
        return store.nearest(layer, lon, lat, **kwargs)
    return nearest_features(store._layer(layer), lon, lat, **kwargs)


@pytest.mark.parametrize(
    "lon, lat, kwargs",
    [
        (1.0, 45.5, {}),
        (1.03, 45.47, {"k": 10}),
        (1.0, 45.0, {"k": 100}),  # on a grid point: ties broken by id
        (-5.0, 40.0, {"k": 3}),  # far outside the layer
        (179.9, 0.0, {"k": 2}),
        (1.0, 45.5, {"k": 5, "where": Comparison("nom", "=", "david")}),
        (1.0, 45.5, {"k": 5, "where": Comparison("nom", "=", "personne")}),
        (1.0, 45.5, {"k": 4, "where": Spatial("disjoint", shapely.Point(1.0, 45.5).buffer(0.3))}),
        (1.0, 45.5, {"k": 0}),
        (200.0, 45.5, {}),
        (1.0, 91.0, {}),
        (1.0, 45.5, {"where": Comparison("inconnu", "isnull")}),
    ],
)
def test_nearest_parity(stores, lon, lat, kwargs):
    gpkg, pg, _ = stores

    def outcome(call):
        try:
            return [(n.feature, round(n.distance, 6)) for n in call()]
        except InvalidQueryError as exc:
            return ("refused", exc.message)

    expected = outcome(lambda: _gpkg_nearest(gpkg, "aleatoire", lon, lat, **kwargs))
    got = outcome(lambda: pg.nearest("aleatoire", lon, lat, **kwargs))
    assert got == expected
