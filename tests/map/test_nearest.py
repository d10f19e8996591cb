"""The store's nearest-neighbour search (``layers/store/nearest.py``) against brute force:
every feature's geodesic distance computed with pyproj, on layers made to be awkward
(dense clusters, empty regions, a selective filter, far positions, the antimeridian)."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from layers.store import Comparison, GeoPackageStore, InvalidQueryError
from layers.store.nearest import disc_boxes, tile_lower_bound

GEOD = Geod(ellps="WGS84")
N = 30_000


def _points(seed: int = 11) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    # 80 % in four tight clusters (towns), 20 % spread over mainland France.
    centres = np.array([[2.35, 48.85], [5.37, 43.30], [4.83, 45.76], [-1.55, 47.22]])
    which = rng.integers(0, 4, int(N * 0.8))
    clustered = centres[which] + rng.normal(0, 0.05, (len(which), 2))
    spread = np.column_stack([rng.uniform(-4.5, 8.0, N - len(which)), rng.uniform(42.5, 51.0, N - len(which))])
    xy = np.vstack([clustered, spread])
    states = rng.choice(["En fonctionnement", "Hors service", "Absent momentanément", "Rare"], N, p=[0.85, 0.1, 0.0497, 0.0003])
    return gpd.GeoDataFrame(
        {"id": [f"p{i:06d}" for i in range(N)], "etat_fonct": states},
        geometry=shapely.points(xy[:, 0], xy[:, 1]), crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def layer(tmp_path_factory):
    store = GeoPackageStore(tmp_path_factory.mktemp("nearest") / "data")
    frame = _points()
    store.publish("points", frame, {}, {"etat_fonct": "string"})
    yield store, frame
    store.close()


def _brute(frame: gpd.GeoDataFrame, lon: float, lat: float, k: int, state: str | None) -> tuple[list[str], np.ndarray]:
    chosen = frame if state is None else frame[frame["etat_fonct"] == state]
    x, y = shapely.get_x(chosen.geometry.values), shapely.get_y(chosen.geometry.values)
    _, _, d = GEOD.inv(np.full(len(x), lon), np.full(len(x), lat), x, y)
    ids = chosen["id"].to_numpy()
    order = np.lexsort((ids, d))[:k]
    return list(ids[order]), d[order]


POSITIONS = [
    (2.35, 48.85),      # inside a dense cluster
    (2.3512, 48.8501),
    (0.5, 46.0),        # countryside between clusters
    (-4.9, 48.4),       # west of the extent
    (9.4, 42.1),        # Corsica, outside the extent
    (55.45, -20.9),     # La Réunion: far from every point
    (-179.95, 10.0),    # across the antimeridian from nothing
    (0.0, 89.99),       # near the pole
]


@pytest.mark.parametrize("lon, lat", POSITIONS)
@pytest.mark.parametrize("k, state", [(1, None), (5, None), (1, "En fonctionnement"), (3, "Rare")])
def test_nearest_matches_brute_force(layer, lon, lat, k, state):
    store, frame = layer
    where = Comparison("etat_fonct", "=", state) if state else None
    got = store.nearest("points", lon, lat, where=where, k=k)
    ids, distances = _brute(frame, lon, lat, k, state)
    assert [n.feature["id"] for n in got] == ids
    assert np.allclose([n.distance for n in got], distances, rtol=1e-9, atol=1e-6)
    assert all(n.feature["geometry"]["type"] == "Point" for n in got)


def test_nearest_filter_without_match_and_k_beyond_count(layer):
    store, frame = layer
    assert store.nearest("points", 2.35, 48.85, where=Comparison("etat_fonct", "=", "Inexistant")) == []
    rare = int((frame["etat_fonct"] == "Rare").sum())
    got = store.nearest("points", 2.35, 48.85, where=Comparison("etat_fonct", "=", "Rare"), k=100)
    assert len(got) == min(rare, 100)
    assert [n.distance for n in got] == sorted(n.distance for n in got)


@pytest.mark.parametrize("kwargs, field", [
    ({"lon": 200, "lat": 0}, "lon"), ({"lon": 0, "lat": -91}, "lat"), ({"lon": math.nan, "lat": 0}, "lon"),
    ({"lon": 0, "lat": 0, "k": 0}, "k"), ({"lon": 0, "lat": 0, "k": 101}, "k"),
])
def test_nearest_refuses_bad_input(layer, kwargs, field):
    store, _ = layer
    with pytest.raises(InvalidQueryError) as caught:
        store.nearest("points", **kwargs)
    assert caught.value.field == field


def test_nearest_on_lines(tmp_path):
    store = GeoPackageStore(tmp_path / "data")
    lines = gpd.GeoDataFrame(
        {"id": ["a", "b", "c"]},
        geometry=[shapely.LineString([(5.0, 46.0), (5.1, 46.0)]), shapely.LineString([(5.0, 46.01), (5.0, 46.2)]),
                  shapely.LineString([(6.0, 47.0), (6.1, 47.1)])],
        crs="EPSG:4326",
    )
    store.publish("lignes", lines, {}, {})
    got = store.nearest("lignes", 5.05, 46.001, k=3)
    assert [n.feature["id"] for n in got] == ["a", "b", "c"]
    # 0.001° of latitude ≈ 111 m: the point of line a right below the position.
    assert got[0].distance == pytest.approx(GEOD.inv(5.05, 46.001, 5.05, 46.0)[2], rel=1e-6)


def test_disc_boxes_contain_the_geodesic_circle():
    rng = np.random.default_rng(5)
    for _ in range(300):
        lon, lat = rng.uniform(-180, 180), rng.uniform(-89, 89)
        radius = 10 ** rng.uniform(0, 7)
        boxes = disc_boxes(lon, lat, radius)
        azimuths = np.linspace(0, 360, 73)
        x, y, _ = GEOD.fwd(np.full(73, lon), np.full(73, lat), azimuths, np.full(73, radius * 0.999999))
        for px, py in zip(x, y):
            assert any(b[0] - 1e-9 <= px <= b[2] + 1e-9 and b[1] - 1e-9 <= py <= b[3] + 1e-9 for b in boxes)


def test_tile_lower_bound_never_exceeds_the_distance():
    rng = np.random.default_rng(9)
    for _ in range(400):
        lon, lat = rng.uniform(-180, 180), rng.uniform(-90, 90)
        w = rng.uniform(-180, 179)
        s = rng.uniform(-90, 89)
        box = (w, s, min(180.0, w + rng.uniform(0.001, 60)), min(90.0, s + rng.uniform(0.001, 40)))
        bound = tile_lower_bound(lon, lat, box)
        px = rng.uniform(box[0], box[2], 50)
        py = rng.uniform(box[1], box[3], 50)
        _, _, d = GEOD.inv(np.full(50, lon), np.full(50, lat), px, py)
        assert bound <= d.min() + 1e-6
