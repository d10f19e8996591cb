"""bbox pages of a point layer through the in-process point index = through SQL, exactly.

Two stores on the same schema: ``PostGISStore(url)`` (the index answers bbox-only queries of
point layers) and ``PostGISStore(url, point_index=False)`` (everything in SQL, the reference).
Every query must give the same numberMatched, ids in the same order, properties and
geometries — and both must match the set computed from the published frame with exact
float comparisons (edges and corners included). Calls of ``PointIndex.page`` are counted, so
that each test also knows which path answered.
"""

from __future__ import annotations

import threading
import uuid

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.store import Comparison, InvalidQueryError
from layers.store import pg_point_index
from layers.store.pg_point_index import PointIndex, ordered_slice
from layers.store.postgis import PostGISStore

from .conftest import drop_schema, schema_url

FIELDS = {"nom": "string", "rang": "integer"}
EDGE_BOX = (1.0, 45.0, 2.0, 46.0)


def _edge_points() -> list[tuple[float, float]]:
    """Points exactly on each edge and corner of EDGE_BOX, and one ulp inside and outside."""
    minx, miny, maxx, maxy = EDGE_BOX
    mid_x, mid_y = 1.5, 45.5
    out: list[tuple[float, float]] = []
    for x in (minx, maxx):
        for y in (miny, maxy, mid_y):
            out.append((x, y))  # corners, then the middle of the west and east edges
    out += [(mid_x, miny), (mid_x, maxy)]  # middle of the south and north edges
    for x, y in ((minx, mid_y), (maxx, mid_y), (mid_x, miny), (mid_x, maxy), (minx, miny), (maxx, maxy)):
        for dx in (-np.inf, np.inf):
            for dy in (-np.inf, np.inf):
                out.append((float(np.nextafter(x, dx)), float(np.nextafter(y, dy))))
    return out


def point_frame(n: int = 4000, seed: int = 3, shift: float = 0.0) -> gpd.GeoDataFrame:
    """Clustered points, points on a 0.1° grid (edges of boxes pass through them), duplicates,
    the edge points of EDGE_BOX, and missing geometries."""
    rng = np.random.default_rng(seed)
    centres = np.array([[2.35, 48.85], [1.44, 43.6], [5.37, 43.3], [1.5, 45.5], [-0.58, 44.84]])
    which = rng.integers(0, len(centres), n)
    xy = centres[which] + rng.normal(0, 0.08, (n, 2)) * rng.choice([0.1, 1.0, 6.0], (n, 1))
    grid = rng.random(n) < 0.3
    xy[grid] = np.round(xy[grid], 1)
    xy[:, 0] += shift
    xy[rng.choice(n, 50, replace=False)] = xy[:50]  # exact duplicates
    edges = np.array(_edge_points())
    xy = np.concatenate([xy, edges])
    geometries = np.array(shapely.points(xy), dtype=object)
    geometries[rng.choice(len(xy) - len(edges), 20, replace=False)] = None
    order = rng.permutation(len(xy))  # fids unrelated to position
    count = len(xy)
    return gpd.GeoDataFrame(
        {
            "id": [f"p{i:05d}" for i in range(count)],
            "nom": rng.choice(np.array(["Anne", "bruno", None], dtype=object), count),
            "rang": pd.array(rng.integers(0, 20, count), dtype="Int64"),
        },
        geometry=geometries[order],
        crs="EPSG:4326",
    )


def expected_ids(frame: gpd.GeoDataFrame, box: tuple[float, float, float, float]) -> list[str]:
    """Ids (publication order) of the points with minx <= x <= maxx and miny <= y <= maxy."""
    present = ~shapely.is_missing(frame.geometry.values)
    x = np.full(len(frame), np.nan)
    y = np.full(len(frame), np.nan)
    x[present] = shapely.get_x(frame.geometry.values[present])
    y[present] = shapely.get_y(frame.geometry.values[present])
    inside = (x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])
    return frame["id"][inside].tolist()


@pytest.fixture
def pair(pg_cluster):
    """(indexed store, SQL-only store) on one schema of this test's own."""
    schema = f"pi_{uuid.uuid4().hex[:10]}"
    url = schema_url(pg_cluster.url, schema)
    indexed, sql = PostGISStore(url), PostGISStore(url, point_index=False)
    yield indexed, sql
    indexed.close()
    sql.close()
    drop_schema(pg_cluster.url, schema)


@pytest.fixture
def pages(monkeypatch) -> list[tuple]:
    """Boxes answered by ``PointIndex.page``, in call order."""
    calls: list[tuple] = []
    original = PointIndex.page

    def counting(self, box, offset, limit):
        calls.append(box)
        return original(self, box, offset, limit)

    monkeypatch.setattr(PointIndex, "page", counting)
    return calls


def assert_same(indexed: PostGISStore, sql: PostGISStore, layer: str, kwargs: dict) -> None:
    got, want = indexed.query(layer, **kwargs), sql.query(layer, **kwargs)
    assert got.number_matched == want.number_matched, kwargs
    assert got.ids == want.ids, kwargs
    assert got.properties == want.properties, kwargs
    assert shapely.to_wkb(got.geometries).tolist() == shapely.to_wkb(want.geometries).tolist(), kwargs
    assert got.with_geometry == want.with_geometry


def random_boxes(frame: gpd.GeoDataFrame, seed: int = 11) -> list[tuple[float, float, float, float]]:
    rng = np.random.default_rng(seed)
    points = frame.geometry.values[~shapely.is_missing(frame.geometry.values)]
    x, y = shapely.get_x(points), shapely.get_y(points)
    boxes = []
    for size in (1e-4, 0.02, 0.3, 1.5):  # tiny, city, département, region
        for _ in range(12):
            cx, cy = rng.uniform(x.min(), x.max()), rng.uniform(y.min(), y.max())
            if rng.random() < 0.6:  # most centred on a point, where the points are
                i = rng.integers(len(x))
                cx, cy = x[i], y[i]
            boxes.append((cx - size, cy - size * 0.7, cx + size, cy + size * 0.7))
    for _ in range(20):  # edges exactly through points
        i, j = rng.integers(len(x), size=2)
        boxes.append((min(x[i], x[j]), min(y[i], y[j]), max(x[i], x[j]), max(y[i], y[j])))
    boxes += [
        EDGE_BOX,
        (1.5, 45.0, 1.5, 46.0),  # a vertical line through edge points
        (1.0, 45.5, 2.0, 45.5),  # a horizontal line
        (1.0, 45.0, 1.0, 45.0),  # a point (a corner point of EDGE_BOX)
        (20.0, 20.0, 21.0, 21.0),  # nothing there
        (1.0, 44.0, 1.0 + 1e-10, 47.0),  # thinner than the index answers for: SQL
    ]
    return boxes


def test_bbox_pages_match_sql(pair, pages) -> None:
    indexed, sql = pair
    frame = point_frame()
    indexed.publish("points", frame, {}, FIELDS)
    boxes = random_boxes(frame)
    thin = boxes[-1]
    for box in boxes:
        want = expected_ids(frame, box)
        for offset, limit in ((0, 10), (0, 1), (3, 100), (len(want) - 1, 5), (len(want), 5), (len(want) + 7, 10), (0, 5000)):
            kwargs = {"bbox": box, "offset": max(offset, 0), "limit": limit}
            assert_same(indexed, sql, "points", kwargs)
            got = indexed.query("points", **kwargs)
            assert got.number_matched == len(want), box
            assert got.ids == want[kwargs["offset"] : kwargs["offset"] + limit], box
    assert set(pages) == {box for box in boxes if box != thin}  # all but the too-thin box: the index


def test_edges_and_corners_count(pair, pages) -> None:
    """A point exactly on an edge or a corner is in the box; one ulp outside is not."""
    indexed, sql = pair
    frame = point_frame(n=200)
    indexed.publish("points", frame, {}, FIELDS)
    edge_ids = set(frame["id"][frame.geometry.apply(lambda g: g is not None and g.coords[0] in set(_edge_points()))])
    got = indexed.query("points", bbox=EDGE_BOX, limit=10_000)
    assert pages, "the index answered"
    want = expected_ids(frame, EDGE_BOX)
    assert got.ids == want == sql.query("points", bbox=EDGE_BOX, limit=10_000).ids
    inside = {i for i in edge_ids if i in set(want)}
    # 8 on the edges and corners; of the 24 ulp-neighbours, 2 of each edge middle's 4, 1 of each corner's
    assert len(inside) == 8 + 4 * 2 + 2 * 1, sorted(inside)


def test_other_options_match_sql(pair, pages) -> None:
    indexed, sql = pair
    frame = point_frame(n=1500)
    indexed.publish("points", frame, {}, FIELDS)
    box = (1.0, 43.0, 3.0, 49.0)
    for kwargs in (
        {"bbox": box, "limit": 0},  # resulttype=hits
        {"bbox": box, "limit": 7, "count": False},
        {"bbox": box, "limit": 9, "select": ["rang"], "skip_geometry": True},
        {"bbox": [*box[:2], -5.0, *box[2:], 5.0], "limit": 12},  # six values
        {"bbox": box, "limit": 100, "offset": 10**6},
    ):
        assert_same(indexed, sql, "points", kwargs)
    assert len(pages) == 5
    for bad in ({"bbox": box, "limit": -1}, {"bbox": (1, 2, 3)}, {"bbox": (0, 47, 1, 46)},
                {"bbox": box, "select": ["inconnu"]}):
        with pytest.raises(InvalidQueryError) as refused:
            indexed.query("points", **bad)
        with pytest.raises(InvalidQueryError) as reference:
            sql.query("points", **bad)
        assert refused.value.message == reference.value.message


def test_sql_keeps_what_the_index_does_not_answer(pair, pages) -> None:
    """bbox with a filter, a sort or across the antimeridian, a box holding the whole layer."""
    indexed, sql = pair
    frame = point_frame(n=1500)
    indexed.publish("points", frame, {}, FIELDS)
    box = (1.0, 43.0, 3.0, 49.0)
    for kwargs in (
        {"bbox": box, "properties": {"nom": "Anne"}, "limit": 1000},
        {"bbox": box, "where": Comparison("rang", "<", 5), "limit": 1000},
        {"bbox": box, "sortby": ["-rang"], "limit": 50},
        {"bbox": (170.0, 40.0, 2.0, 50.0), "limit": 1000},  # crosses the antimeridian
        {"bbox": (-180.0, -90.0, 180.0, 90.0), "limit": 20, "offset": 5},
    ):
        assert_same(indexed, sql, "points", kwargs)
    assert pages == []
    inside = set(expected_ids(frame, box))
    got = indexed.query("points", bbox=box, properties={"nom": "Anne"}, limit=10_000)
    anne = set(frame["id"][frame["nom"] == "Anne"])
    assert got.ids == [i for i in frame["id"] if i in inside and i in anne]


def test_line_layer_goes_through_sql(pair, pages) -> None:
    indexed, sql = pair
    frame = point_frame(n=300)
    geometries = frame.geometry.values.copy()
    geometries[5] = shapely.LineString([(1.2, 45.2), (1.8, 45.9)])
    frame = frame.set_geometry(gpd.GeoSeries(geometries, crs="EPSG:4326"))
    indexed.publish("mixte", frame, {}, FIELDS)
    got = indexed.query("mixte", bbox=EDGE_BOX, limit=1000)
    assert_same(indexed, sql, "mixte", {"bbox": EDGE_BOX, "limit": 1000})
    assert frame["id"][5] in got.ids
    assert pages == [] and not indexed._points._entries


def test_republication_changes_answers_at_once(pair, pg_cluster) -> None:
    """The index of the old version is never used after a swap, in this process or another."""
    indexed, sql = pair
    other = PostGISStore(indexed.url)  # another process's store: its own cached layer info and index
    try:
        first, second = point_frame(seed=5), point_frame(seed=6, shift=0.05)
        box = (1.2, 45.2, 1.8, 45.8)
        indexed.publish("points", first, {}, FIELDS)
        assert other.query("points", bbox=box, limit=10_000).ids == expected_ids(first, box)
        assert indexed.query("points", bbox=box, limit=10_000).ids == expected_ids(first, box)
        indexed.publish("points", second, {}, FIELDS)
        for store in (other, indexed):  # ``other`` still holds the first version's info and index
            got = store.query("points", bbox=box, limit=10_000)
            assert got.ids == expected_ids(second, box)
            assert got.number_matched == len(expected_ids(second, box))
        assert expected_ids(first, box) != expected_ids(second, box)
        assert_same(other, sql, "points", {"bbox": box, "limit": 10, "offset": 4})
    finally:
        other.close()


def test_one_build_for_concurrent_first_queries(pair, monkeypatch) -> None:
    indexed, sql = pair
    frame = point_frame(n=2000)
    indexed.publish("points", frame, {}, FIELDS)
    reads: list[int] = []
    original = pg_point_index.read

    def counting(conn, info, metadata_table):
        reads.append(1)
        return original(conn, info, metadata_table)

    monkeypatch.setattr(pg_point_index, "read", counting)
    boxes = random_boxes(frame, seed=2)[:16]
    results: dict[int, object] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = indexed.query("points", bbox=boxes[i], limit=20)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(boxes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(reads) == 1
    for i, box in enumerate(boxes):
        assert results[i].ids == expected_ids(frame, box)[:20]


@pytest.mark.parametrize("n", [0, 1, 5, 3000])
def test_ordered_slice(n: int) -> None:
    rng = np.random.default_rng(n)
    values = rng.permutation(np.arange(10 * n, dtype=np.int64))[:n]
    reference = np.sort(values)
    for offset, limit in ((0, 1), (0, 10), (n // 2, 7), (max(n - 3, 0), 10), (n, 5), (0, n + 1)):
        assert ordered_slice(values, offset, limit).tolist() == reference[offset : offset + limit].tolist()


def test_usable_box() -> None:
    assert pg_point_index.usable_box((1.0, 45.0, 2.0, 46.0))
    assert pg_point_index.usable_box((1.0, 45.0, 1.0, 46.0))  # a line: GEOS, exact
    assert not pg_point_index.usable_box((1.0, 45.0, 1.0 + 1e-12, 46.0))
    assert not pg_point_index.usable_box((0.0, 1e-300, 1.0, 2.0))
    assert not pg_point_index.usable_box((0.0, 0.0, float("inf"), 1.0))
