"""Deep pages and numberMatched without rescanning: the seek paths (dense ids, remembered
cursors) give exactly the rows OFFSET would, and cached counts never outlive their file."""

from __future__ import annotations

import sqlite3

import pytest
import shapely

from layers.store import Comparison, GeoPackageStore, Spatial
from layers.store.gpkg_paging import dense_first_id

from tests.store.conftest import RANDOM_FIELDS, random_frame


def offset_rows(store, layer_id, where_sql, params, limit, offset):
    """The reference: plain SQL OFFSET on the same file."""
    layer = store._layer(layer_id)
    rows = layer.execute(
        f'SELECT id FROM "{layer_id}" {where_sql} ORDER BY fid LIMIT ? OFFSET ?', [*params, limit, offset]
    )
    return [row[0] for row in rows]


def test_unfiltered_pages_seek_on_dense_ids(random_layer):
    store, frame = random_layer
    layer = store._layer("aleatoire")
    assert dense_first_id(layer) == 1
    for offset in (0, 1, 96, 700, len(frame) - 3, len(frame), len(frame) + 5):
        page = store.query("aleatoire", limit=10, offset=offset)
        assert page.ids == list(frame["id"].iloc[offset: offset + 10])
        assert page.number_matched == len(frame)


@pytest.mark.parametrize(
    "offsets",
    [
        [0, 50, 100, 150, 200],  # a walk along next links
        [400, 450, 0, 50, 425, 300],  # jumps back and forth, between remembered page ends
        [200, 200, 200],  # the same page again
    ],
)
def test_filtered_pages_from_remembered_cursors_equal_offset(random_layer, offsets):
    store, _ = random_layer
    where = Comparison("actif", "=", True)
    for offset in offsets:
        got = store.query("aleatoire", where=where, limit=50, offset=offset).ids
        assert got == offset_rows(store, "aleatoire", "WHERE actif = 1", [], 50, offset)


def test_walk_of_a_bbox_and_spatial_query_returns_each_feature_once(random_layer):
    store, frame = random_layer
    box = (0.0, 44.5, 2.5, 46.5)
    where = Spatial("dwithin", shapely.Point(1.2, 45.5), 60_000.0)
    total = store.query("aleatoire", bbox=box, where=where, limit=0).number_matched
    seen, offset = [], 0
    while page := store.query("aleatoire", bbox=box, where=where, limit=17, offset=offset):
        if not page.ids:
            break
        assert page.number_matched == total
        seen += page.ids
        offset += 17
    assert len(seen) == len(set(seen)) == total > 0


def test_counts_are_cached_per_file_not_per_layer_name(store):
    frame = random_frame(300, seed=5)
    store.publish("aleatoire", frame, {}, RANDOM_FIELDS)
    where = Comparison("rang", "<", 25)
    first = store.query("aleatoire", where=where, limit=5)
    assert first.number_matched == int((frame["rang"] < 25).sum())
    store.query("aleatoire", where=where, limit=5, offset=5)  # remembers a cursor too
    smaller = frame.iloc[:120]
    store.publish("aleatoire", smaller, {}, RANDOM_FIELDS)  # a new file: nothing remembered applies
    again = store.query("aleatoire", where=where, limit=5, offset=5)
    assert again.number_matched == int((smaller["rang"] < 25).sum())
    assert again.ids == offset_rows(store, "aleatoire", "WHERE rang < 25", [], 5, 5)


def test_ids_with_gaps_fall_back_to_cursors(tmp_path):
    store = GeoPackageStore(tmp_path / "data")
    frame = random_frame(200, seed=9)
    store.publish("aleatoire", frame, {}, RANDOM_FIELDS)
    path = store.path("aleatoire")
    # A file edited by hand (never by publication): ids 7, 14, … removed.
    connection = sqlite3.connect(path)
    for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        connection.execute(f'DROP TRIGGER "{name}"')
    connection.execute('DELETE FROM "aleatoire" WHERE fid % 7 = 0')
    connection.execute("UPDATE gpkg_ogr_contents SET feature_count = NULL WHERE table_name = 'aleatoire'")
    connection.commit()
    connection.close()
    reader = GeoPackageStore(tmp_path / "data")
    assert dense_first_id(reader._layer("aleatoire")) is None
    kept = [fid_id for fid, fid_id in enumerate(frame["id"], start=1) if fid % 7]
    for offset in (0, 40, 80, 160, 40):
        assert reader.query("aleatoire", limit=40, offset=offset).ids == kept[offset: offset + 40]
    assert reader.query("aleatoire", limit=0).number_matched == len(kept)


def test_layer_cache_bounds_each_kind_on_its_own():
    from layers.store.gpkg_reader import LayerCache

    cache = LayerCache()
    for i in range(100):
        cache.put(("spatial", i), i)
    for i in range(600):
        cache.put(("count", i), i)
    assert cache.get(("spatial", 99)) == 99 and cache.get(("spatial", 0)) is None
    assert len([i for i in range(100) if cache.get(("spatial", i)) is not None]) == LayerCache.LIMITS["spatial"]
    assert cache.get(("count", 599)) == 599 and cache.get(("count", 87)) is None
    assert cache.get_or_compute(("count", 599), lambda: 0) == 599
