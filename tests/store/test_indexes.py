"""Attribute indexes of the GeoPackage store: built in the published file, used by the very
statements the store runs for an equality filter, and without changing any answer."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.errors import PublicationError
from layers.store import GeoPackageStore
from layers.store.base import And, Comparison, Not, Or

from .conftest import RANDOM_FIELDS, random_frame

COMMUNES = np.array([f"Commune {i:03d}" for i in range(400)], dtype=object)
STATUTS = np.array(["En fonctionnement", "Hors service", "Absent"], dtype=object)
FIELDS = {"commune": "string", "code": "integer", "statut": "string", "ouvert": "boolean"}
INDEXES = ("commune", "code", "statut", "ouvert")


def communes_frame(n: int = 20_000, seed: int = 7) -> gpd.GeoDataFrame:
    """Points as a DAE layer holds them: a commune per feature (400, ~50 each), a status
    shared by most features, some missing values."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 400, n)
    commune = COMMUNES[codes].copy()
    commune[rng.random(n) < 0.02] = None
    return gpd.GeoDataFrame(
        {
            "id": [f"dae-{i:06d}" for i in range(n)],
            "commune": commune,
            "code": pd.array(38000 + codes, dtype="Int64"),
            "statut": rng.choice(STATUTS, n, p=[0.9, 0.07, 0.03]),
            "ouvert": pd.array(rng.random(n) < 0.5, dtype="boolean"),
        },
        geometry=shapely.points(rng.uniform(-1.0, 7.0, n), rng.uniform(43.0, 49.0, n)),
        crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    store = GeoPackageStore(tmp_path_factory.mktemp("indexes") / "data")
    frame = communes_frame()
    meta = store.publish("dae", frame, {"licence": "lo-2.0"}, FIELDS, indexes=INDEXES)
    yield store, store.read_layer("dae"), meta
    store.close()


def _sqlite_indexes(path, table: str = "dae") -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", [table]))


def test_indexes_are_in_the_published_file_and_its_metadata(indexed):
    store, _, meta = indexed
    indexes = _sqlite_indexes(store.path("dae"))
    for name in INDEXES:
        assert indexes[f"idx_dae_{name}"] == f'CREATE INDEX "idx_dae_{name}" ON "dae" ("{name}")'
    assert "idx_dae_id" in indexes  # the unique index on the feature id is still there
    assert meta["indexes"] == list(INDEXES) and store.metadata("dae")["indexes"] == list(INDEXES)
    assert not [p for p in store.data_dir.iterdir() if ".tmp-" in p.name]


def test_a_layer_published_without_indexes_has_none(store):
    store.publish("aleatoire", random_frame(100), {}, RANDOM_FIELDS)
    assert set(_sqlite_indexes(store.path("aleatoire"), "aleatoire")) == {"idx_aleatoire_id"}
    assert store.metadata("aleatoire")["indexes"] == []


@contextmanager
def recorded(store: GeoPackageStore, layer_id: str):
    """Every statement the store runs on the layer, with its parameters."""
    layer = store._layer(layer_id)
    statements: list[tuple[str, list]] = []
    original = layer.execute

    def execute(sql, params=()):
        statements.append((sql, list(params)))
        return original(sql, params)

    layer.execute = execute
    try:
        yield layer, statements
    finally:
        del layer.execute


def _plans(layer, statements) -> list[tuple[str, str]]:
    return [
        (sql, " | ".join(row[3] for row in layer.connection.execute("EXPLAIN QUERY PLAN " + sql, params)))
        for sql, params in statements
    ]


@pytest.mark.parametrize("name,value,how", [
    ("commune", "Commune 123", "where"),
    ("commune", "Commune 124", "properties"),
    ("code", 38201, "where"),
    ("code", "38202", "properties"),  # text from a URL, coerced to the column's integer
    ("statut", "Hors service", "where"),
])
def test_equality_filter_reads_the_index_for_the_count_and_the_page(indexed, name, value, how):
    store, _, _ = indexed
    kwargs = {"where": Comparison(name, "=", value)} if how == "where" else {"properties": {name: value}}
    with recorded(store, "dae") as (layer, statements):
        result = store.query("dae", limit=10, offset=5, **kwargs)
    assert result.number_matched > 15
    plans = _plans(layer, statements)
    count = [plan for sql, plan in plans if "count(*)" in sql]
    page = [plan for sql, plan in plans if "ORDER BY" in sql]
    assert len(count) == 1 and len(page) == 1, plans
    assert f"USING COVERING INDEX idx_dae_{name} ({name}=?)" in count[0]
    assert f"USING INDEX idx_dae_{name} ({name}=?)" in page[0]
    assert "TEMP B-TREE" not in page[0]  # the index gives the fid order: no sort
    assert "SCAN dae" not in count[0] + page[0]


def test_in_list_reads_the_index(indexed):
    store, _, _ = indexed
    with recorded(store, "dae") as (layer, statements):
        store.query("dae", where=Comparison("commune", "in", ("Commune 010", "Commune 011")), limit=10)
    plans = " || ".join(plan for _, plan in _plans(layer, statements))
    assert "INDEX idx_dae_commune (commune=?)" in plans and "SCAN dae" not in plans


def test_of_two_indexed_conditions_the_selective_one_is_read(indexed):
    """The statistics built at publication tell SQLite that half the layer is "ouvert":
    without them it read that index (10,000 entries) rather than the commune's (50)."""
    store, _, _ = indexed
    where = And((Comparison("ouvert", "=", True), Comparison("commune", "=", "Commune 007")))
    with recorded(store, "dae") as (layer, statements):
        store.query("dae", where=where)
    plans = _plans(layer, statements)
    assert len(plans) == 2 and all("INDEX idx_dae_commune (commune=?)" in plan for _, plan in plans), plans


def test_small_bbox_with_a_common_status_still_goes_through_the_rtree(indexed):
    store, _, _ = indexed
    with recorded(store, "dae") as (layer, statements):
        store.query("dae", bbox=[2.0, 45.0, 2.3, 45.3], where=Comparison("statut", "=", "En fonctionnement"))
    filtered = [plan for sql, plan in _plans(layer, statements) if '"statut" = ?' in sql]
    assert len(filtered) == 2  # the count and the page
    for plan in filtered:
        # Driven by the R-tree's ids: the status index, if used, only by (statut, rowid) lookups.
        assert "rtree" in plan and "(statut=?)" not in plan and "SCAN dae" not in plan, plan


CASES = ["equal", "equal-int", "in", "not-equal", "and", "or", "not", "bbox", "isnull", "properties", "bool", "between"]


def filter_case(frame: pd.DataFrame, case: str) -> tuple[dict, pd.Series]:
    """A query's filter arguments and the pandas mask that selects the same features."""
    if case == "equal":
        return {"where": Comparison("commune", "=", "Commune 042")}, frame["commune"] == "Commune 042"
    if case == "equal-int":
        return {"where": Comparison("code", "=", 38042)}, frame["code"] == 38042
    if case == "in":
        values = ("Commune 001", "Commune 399", "Nulle part")
        return {"where": Comparison("commune", "in", values)}, frame["commune"].isin(values)
    if case == "not-equal":
        return {"where": Comparison("statut", "<>", "En fonctionnement")}, frame["statut"] != "En fonctionnement"
    if case == "and":
        where = And((Comparison("statut", "=", "En fonctionnement"), Comparison("code", "=", 38007)))
        return {"where": where}, (frame["statut"] == "En fonctionnement") & (frame["code"] == 38007)
    if case == "or":
        where = Or((Comparison("commune", "=", "Commune 100"), Comparison("statut", "=", "Absent")))
        return {"where": where}, (frame["commune"] == "Commune 100") | (frame["statut"] == "Absent")
    if case == "not":
        mask = frame["commune"].notna() & (frame["commune"] != "Commune 100")
        return {"where": Not(Comparison("commune", "=", "Commune 100"))}, mask
    if case == "bbox":
        inside = shapely.intersects(frame.geometry.values, shapely.box(0.0, 44.0, 3.0, 47.0))
        mask = (frame["statut"] == "Hors service") & pd.Series(inside, index=frame.index)
        return {"bbox": [0.0, 44.0, 3.0, 47.0], "where": Comparison("statut", "=", "Hors service")}, mask
    if case == "isnull":
        return {"where": Comparison("commune", "isnull")}, frame["commune"].isna()
    if case == "properties":
        mask = (frame["commune"] == "Commune 200") & (frame["statut"] == "En fonctionnement")
        return {"properties": {"commune": "Commune 200", "statut": "En fonctionnement"}}, mask
    if case == "bool":
        mask = (frame["ouvert"] == True) & (frame["code"] == 38300)  # noqa: E712
        return {"properties": {"ouvert": "oui", "code": "38300"}}, mask
    assert case == "between"
    return {"where": Comparison("code", "between", (38010, 38012))}, frame["code"].between(38010, 38012)


def check_against_brute_force(store, frame: pd.DataFrame, case: str) -> None:
    """First page, a deep page and a sorted page: the ids pandas selects, in fid order."""
    kwargs, mask = filter_case(frame, case)
    mask = mask.fillna(False).astype(bool)
    expected = frame.loc[mask, "id"].tolist()  # read_layer is in fid order
    assert expected  # the case selects something
    first = store.query("dae", limit=7, skip_geometry=True, **kwargs)
    assert first.number_matched == len(expected)
    assert first.ids == expected[:7]
    deep = store.query("dae", limit=5, offset=len(expected) - 3, skip_geometry=True, **kwargs)
    assert deep.ids == expected[-3:]
    selected = frame.loc[mask].assign(_order=np.arange(int(mask.sum())))
    by_code = selected.sort_values(["code", "_order"], ascending=[False, True], na_position="last")
    assert store.query("dae", limit=6, sortby=["-code"], skip_geometry=True, **kwargs).ids == by_code["id"].tolist()[:6]


@pytest.mark.parametrize("case", CASES)
def test_filtered_results_are_those_of_a_brute_force_filter(indexed, case):
    store, frame, _ = indexed
    check_against_brute_force(store, frame, case)


def test_an_index_on_an_unknown_column_publishes_nothing(store):
    store.publish("aleatoire", random_frame(100), {}, RANDOM_FIELDS)
    before = store.path("aleatoire").read_bytes()
    with pytest.raises(PublicationError, match="« comune ».*n'est pas une colonne publiée") as info:
        store.publish("aleatoire", random_frame(120, seed=2), {}, RANDOM_FIELDS, indexes=("nom", "comune"))
    assert info.value.field == "comune" and "aleatoire" in str(info.value)
    assert store.path("aleatoire").read_bytes() == before
    assert not [p for p in store.data_dir.iterdir() if ".tmp-" in p.name]
    with pytest.raises(PublicationError, match="id"):
        store.publish("aleatoire", random_frame(120, seed=2), {}, RANDOM_FIELDS, indexes=("id",))


def test_an_index_on_a_list_is_refused(store, typed_frame):
    from .test_publish import TYPED_FIELDS

    with pytest.raises(PublicationError, match="jours"):
        store.publish("essai", typed_frame, {}, TYPED_FIELDS, indexes=("jours",))
    assert not store.path("essai").exists()
