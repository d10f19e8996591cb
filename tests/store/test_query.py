"""The read side against geopandas on the same data: bbox, filters, sort, paging, count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from layers.store import And, Comparison, InvalidQueryError, Not, Or
from layers.store.gpkg_reader import decode_geometries

BOXES = [
    (0.0, 45.0, 1.0, 46.0),  # edges on the 0.1° grid: points exactly on the border
    (-0.35, 44.05, 2.55, 46.95),
    (2.0, 44.0, 2.0, 47.0),  # a vertical line: only points with x == 2.0 and crossing lines
    (10.0, 10.0, 11.0, 11.0),  # nothing there
    (-180.0, -90.0, 180.0, 90.0),
]


def expected_ids(frame, box) -> set[str]:
    return set(frame.loc[frame.intersects(shapely.box(*box)), "id"])


def all_ids(store, layer, **kwargs) -> list[str]:
    result = store.query(layer, limit=100_000, **kwargs)
    return [f["id"] for f in result.features]


@pytest.mark.parametrize("box", BOXES)
def test_bbox_matches_geopandas_intersects(random_layer, box):
    store, frame = random_layer
    ids = all_ids(store, "aleatoire", bbox=box)
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_ids(frame, box)
    assert store.query("aleatoire", bbox=box, limit=1).number_matched == len(ids)


def test_bbox_refines_float32_rtree_boxes(random_layer):
    """A point a hair outside the box is inside the R-tree's float32-rounded box: must be dropped."""
    store, frame = random_layer
    x = frame.geometry.iloc[0].x if frame.geometry.iloc[0] is not None else 1.0
    box = (x + 1e-9, 44.0, x + 1.0, 47.0)
    assert set(all_ids(store, "aleatoire", bbox=box)) == expected_ids(frame, box)


def test_antimeridian_and_six_value_bbox(random_layer):
    store, frame = random_layer
    crossing = (2.5, 44.0, 0.0, 47.0)  # west > east: [2.5, 180] ∪ [-180, 0]
    expected = expected_ids(frame, (2.5, 44.0, 180.0, 47.0)) | expected_ids(frame, (-180.0, 44.0, 0.0, 47.0))
    assert set(all_ids(store, "aleatoire", bbox=crossing)) == expected
    assert set(all_ids(store, "aleatoire", bbox=(0, 45, -5, 1, 46, 5))) == expected_ids(frame, BOXES[0])


def test_paging_walk_returns_every_feature_once(random_layer):
    store, frame = random_layer
    seen: list[str] = []
    offset = 0
    while True:
        page = store.query("aleatoire", limit=97, offset=offset, sortby=["nom"])
        assert page.number_matched == len(frame)
        if not page.ids:
            break
        seen.extend(page.ids)
        offset += 97
    assert len(seen) == len(frame) and set(seen) == set(frame["id"])


@pytest.mark.parametrize("keys", [["rang"], ["-rang"], ["nom", "-valeur"], ["-actif", "rang"], ["+id"]])
def test_sort_matches_pandas(random_layer, keys):
    store, frame = random_layer
    names = [k.lstrip("+-") for k in keys]
    ascending = [not k.startswith("-") for k in keys]
    expected = frame.assign(_fid=np.arange(len(frame)))
    # Missing values last in both directions.
    for name, asc in reversed(list(zip(names, ascending))):
        expected = expected.sort_values(name, ascending=asc, na_position="last", kind="stable")
    ids = all_ids(store, "aleatoire", sortby=keys)
    got = frame.set_index("id", drop=False).loc[ids, names].reset_index(drop=True)
    want = expected[names].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_limit_offset_slice_of_the_order(random_layer):
    store, frame = random_layer
    full = all_ids(store, "aleatoire", sortby=["-valeur"])
    page = store.query("aleatoire", limit=25, offset=100, sortby=["-valeur"])
    assert page.ids == full[100:125]
    assert store.query("aleatoire", limit=10, offset=len(frame)).ids == []
    assert store.query("aleatoire", limit=0).number_matched == len(frame)


def test_property_equality_with_typed_values(random_layer):
    store, frame = random_layer
    assert set(all_ids(store, "aleatoire", properties={"nom": "Céline"})) == set(frame.loc[frame["nom"] == "Céline", "id"])
    assert set(all_ids(store, "aleatoire", properties=[("rang", "7")])) == set(frame.loc[frame["rang"] == 7, "id"])
    assert set(all_ids(store, "aleatoire", properties={"actif": "true"})) == set(frame.loc[frame["actif"], "id"])
    box = BOXES[1]
    both = frame[(frame["actif"] == False) & frame.intersects(shapely.box(*box))]  # noqa: E712
    result = store.query("aleatoire", properties={"actif": "false"}, bbox=box, limit=5)
    assert result.number_matched == len(both)


def test_where_tree(random_layer):
    store, frame = random_layer
    where = And((
        Or((Comparison("nom", "like", "%n%"), Comparison("nom", "isnull"))),
        Comparison("valeur", "between", (0.2, 0.6)),
        Not(Comparison("rang", "in", [1, 2, 3])),
    ))
    mask = (
        (frame["nom"].fillna("").str.contains("n") | frame["nom"].isna())
        & frame["valeur"].between(0.2, 0.6)
        & ~frame["rang"].isin([1, 2, 3]).fillna(False)
        & frame["rang"].notna()  # NOT (NULL IN …) is unknown in SQL: excluded
    )
    assert set(all_ids(store, "aleatoire", where=where)) == set(frame.loc[mask, "id"])
    # LIKE is case-sensitive, as in CQL2.
    assert set(all_ids(store, "aleatoire", where=Comparison("nom", "like", "b%"))) == set(frame.loc[frame["nom"] == "bruno", "id"])
    assert all_ids(store, "aleatoire", where=Comparison("nom", "like", "B%")) == []


def test_select_and_skip_geometry(random_layer):
    store, _ = random_layer
    page = store.query("aleatoire", select=["valeur"], skip_geometry=True, limit=3)
    assert all(set(f["properties"]) == {"valeur"} and f["geometry"] is None for f in page.features)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sortby": ["inconnu"]},
        {"properties": {"inconnu": "1"}},
        {"properties": {"rang": "pas un nombre"}},
        {"select": ["inconnu"]},
        {"bbox": (1, 2, 3)},
        {"bbox": (0, 47, 1, 46)},
        {"where": Comparison("rang", "like", "1%")},
    ],
)
def test_invalid_queries_are_refused_clearly(random_layer, kwargs):
    store, _ = random_layer
    with pytest.raises(InvalidQueryError):
        store.query("aleatoire", **kwargs)


def test_decode_geometries_handles_envelopes():
    import struct

    wkb = shapely.to_wkb(shapely.LineString([(0, 0), (1, 2)]))
    no_envelope = b"GP\x00\x01" + struct.pack("<i", 4326) + wkb
    xy_envelope = b"GP\x00\x03" + struct.pack("<i", 4326) + struct.pack("<4d", 0, 1, 0, 2) + wkb
    xyz_envelope = b"GP\x00\x05" + struct.pack("<i", 4326) + struct.pack("<6d", 0, 1, 0, 2, 0, 0) + wkb
    decoded = decode_geometries([no_envelope, xy_envelope, xyz_envelope, None])
    assert all(g.equals(shapely.LineString([(0, 0), (1, 2)])) for g in decoded[:3])
    assert decoded[3] is None
