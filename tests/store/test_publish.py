"""Publication: types survive the round trip, the file is a proper GeoPackage, and a
failure at any step leaves the published layer exactly as it was."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import os
import sqlite3
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from layers.errors import PublicationError, StoreError
from layers.settings import Settings
from layers.store import GeoPackageStore, Store, open_store
from layers.store import geopackage as gpkg_module

TYPED_FIELDS = {
    "code_insee": "string",
    "nombre": "integer",
    "hauteur": "number",
    "ouvert": "boolean",
    "date_pose": "date",
    "maj": "datetime",
    "jours": "array",
}


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(store: GeoPackageStore) -> list[str]:
    return sorted(p.name for p in store.data_dir.iterdir() if ".tmp-" in p.name)


# -- round trip ---------------------------------------------------------------------------


def test_read_layer_round_trips_every_type(store, typed_frame):
    store.publish("essai", typed_frame, {"licence": "lo-2.0"}, TYPED_FIELDS)
    back = store.read_layer("essai").set_index("id").loc[typed_frame["id"]]

    assert back["code_insee"].tolist()[0] == "06000"  # leading zeros kept: text, not a number
    assert back["code_insee"].tolist()[2:] == ["2A004", "00001"]
    assert pd.isna(back["code_insee"].iloc[1])
    assert back["nombre"].tolist()[::2] == [1, 3] and pd.isna(back["nombre"].iloc[1])
    assert pd.api.types.is_integer_dtype(back["nombre"])
    assert back["hauteur"].tolist()[0] == 1.5 and pd.isna(back["hauteur"].iloc[1])
    assert back["ouvert"].tolist()[0] is True and back["ouvert"].tolist()[2] is False
    assert pd.isna(back["ouvert"].iloc[1])
    assert back["date_pose"].tolist() == [dt.date(2024, 1, 2), None, dt.date(2023, 5, 6), dt.date(1999, 12, 31)]
    assert back["maj"].iloc[0] == pd.Timestamp("2024-01-02T03:04:05Z") and pd.isna(back["maj"].iloc[1])
    assert back["jours"].tolist() == [["lundi", "mardi"], None, [], ["dimanche"]]
    assert back.geometry.iloc[0].equals(shapely.Point(2.35, 48.85))
    assert back.geometry.iloc[2] is None or back.geometry.iloc[2].is_empty
    assert back.crs.to_epsg() == 4326


def test_query_returns_json_ready_values(store, typed_frame):
    store.publish("essai", typed_frame, {}, TYPED_FIELDS)
    features = {f["id"]: f for f in store.query("essai", limit=10).features}
    a = features["a-1"]["properties"]
    assert a == {
        "code_insee": "06000",
        "nombre": 1,
        "hauteur": 1.5,
        "ouvert": True,
        "date_pose": "2024-01-02",
        "maj": a["maj"],
        "jours": ["lundi", "mardi"],
    }
    assert a["maj"].startswith("2024-01-02T03:04:05")
    assert features["b-2"]["properties"] == dict.fromkeys(TYPED_FIELDS)
    assert features["c-3"]["geometry"] is None and features["c-3"]["properties"]["jours"] == []
    assert features["a-1"]["geometry"] == {"type": "Point", "coordinates": [2.35, 48.85]}
    assert store.get("essai", "d-4")["properties"]["ouvert"] is True
    assert store.get("essai", "absent") is None


def test_file_is_a_geopackage_with_rtree_and_metadata(store, typed_frame):
    meta = store.publish(
        "essai",
        typed_frame,
        {"licence": "lo-2.0", "source": {"name": "dae.csv", "sha256": "ab" * 32}, "counts": {"read": 5, "rejected": 1}},
        TYPED_FIELDS,
    )
    path = store.path("essai")
    assert path.name == "essai.gpkg"
    with sqlite3.connect(path) as connection:
        extension = connection.execute(
            "SELECT extension_name FROM gpkg_extensions WHERE table_name = 'essai' AND column_name = 'geom'"
        ).fetchall()
        assert ("gpkg_rtree_index",) in extension
        assert connection.execute("SELECT count(*) FROM \"rtree_essai_geom\"").fetchone()[0] == 3
        assert connection.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # "GPKG"
        assert connection.execute("SELECT count(*) FROM geocommune_metadata").fetchone()[0] == 1
    layers = dict(pyogrio.list_layers(path))
    assert layers["essai"] == "Point"
    assert meta["counts"] == {"read": 5, "rejected": 1, "published": 4}
    assert meta["extent"] == [2.35, 42.0, 9.0, 48.85]
    assert meta["field_types"]["jours"] == "array" and meta["field_types"]["id"] == "string"
    assert meta["layer"] == "essai" and meta["licence"] == "lo-2.0"
    assert store.metadata("essai") == meta
    assert meta["store"] == {"format": "GeoPackage", "version": 1, "publication": meta["store"]["publication"]}
    assert store.metadata("jamais") is None
    assert store.published() == ["essai"]
    assert store.count("essai") == 4


def test_other_clients_read_the_file(store, typed_frame):
    store.publish("essai", typed_frame, {}, TYPED_FIELDS)
    frame = gpd.read_file(store.path("essai"), layer="essai", engine="pyogrio")
    assert len(frame) == 4 and frame.crs.to_epsg() == 4326
    assert frame.geometry.name == "geometry"  # column "geom" in the file


def test_types_are_inferred_when_not_declared(store):
    frame = gpd.GeoDataFrame(
        {"id": ["1", "2"], "n": [1, 2], "x": [0.5, 1.5], "b": [True, False], "t": ["01", "02"], "l": [[1], [2, 3]]},
        geometry=[shapely.Point(0, 45), shapely.Point(1, 46)],
        crs="EPSG:4326",
    )
    meta = store.publish("infere", frame, {}, {})
    assert meta["field_types"] == {"id": "string", "n": "integer", "x": "number", "b": "boolean", "t": "string", "l": "array"}
    assert store.get("infere", "2")["properties"] == {"n": 2, "x": 1.5, "b": False, "t": "02", "l": [2, 3]}


# -- refused input ---------------------------------------------------------------------------


def test_refuses_duplicate_ids_and_keeps_nothing(store, typed_frame):
    typed_frame.loc[3, "id"] = "a-1"
    with pytest.raises(PublicationError, match="a-1") as caught:
        store.publish("essai", typed_frame, {}, TYPED_FIELDS)
    assert "essai" in str(caught.value)
    assert not store.path("essai").exists() and leftovers(store) == []


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: f.drop(columns="id"), "id"),
        (lambda f: f.to_crs("EPSG:2154"), "WGS84"),
        (lambda f: f.assign(id=[None, "b", "c", "d"]), "sans identifiant"),
    ],
)
def test_refuses_bad_frames(store, typed_frame, change, message):
    with pytest.raises(PublicationError, match=message):
        store.publish("essai", change(typed_frame), {}, TYPED_FIELDS)
    assert leftovers(store) == []


def test_refuses_unsafe_layer_ids(store, typed_frame):
    for bad in ("../evil", "Majuscule", "", "a b"):
        with pytest.raises(PublicationError):
            store.publish(bad, typed_frame, {}, TYPED_FIELDS)


# -- atomicity ---------------------------------------------------------------------------------


@pytest.fixture
def published_v1(store, typed_frame):
    store.publish("essai", typed_frame, {"version": 1}, TYPED_FIELDS)
    return sha256(store.path("essai"))


def _version_2(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.assign(code_insee=["99999"] * len(frame))


def test_failure_after_write_keeps_previous_bytes(store, typed_frame, published_v1):
    seen_temporary = []

    def explode():
        seen_temporary.extend(leftovers(store))
        raise RuntimeError("panne simulée")

    with pytest.raises(PublicationError, match="essai") as caught:
        store.publish("essai", _version_2(typed_frame), {"version": 2}, TYPED_FIELDS, fail_after_write=explode)
    assert "panne simulée" in str(caught.value)
    assert seen_temporary and seen_temporary[0].startswith(".essai.gpkg.tmp-")  # it was really written
    assert sha256(store.path("essai")) == published_v1
    assert leftovers(store) == []
    assert store.metadata("essai")["version"] == 1
    assert store.get("essai", "a-1")["properties"]["code_insee"] == "06000"


def test_metadata_that_cannot_be_stored_keeps_previous_bytes(store, typed_frame, published_v1):
    with pytest.raises(PublicationError, match="essai"):
        store.publish("essai", _version_2(typed_frame), {"version": 2, "bad": object()}, TYPED_FIELDS)
    assert sha256(store.path("essai")) == published_v1
    assert leftovers(store) == []


def test_metadata_table_write_failure_keeps_previous_bytes(store, typed_frame, published_v1, monkeypatch):
    def broken_complete(path, layer_id, metadata):
        connection = sqlite3.connect(path)
        connection.execute("CREATE TABLE geocommune_metadata (x)")  # half-done work in the temp file
        connection.commit()
        connection.close()
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(gpkg_module, "_complete_file", broken_complete)
    with pytest.raises(PublicationError, match="disk I/O error"):
        store.publish("essai", _version_2(typed_frame), {"version": 2}, TYPED_FIELDS)
    assert sha256(store.path("essai")) == published_v1
    assert leftovers(store) == []


def test_failure_in_rename_keeps_previous_bytes(store, typed_frame, published_v1, monkeypatch):
    def no_replace(src, dst):
        raise OSError("rename refusé")

    monkeypatch.setattr(gpkg_module.os, "replace", no_replace)
    with pytest.raises(PublicationError):
        store.publish("essai", _version_2(typed_frame), {"version": 2}, TYPED_FIELDS)
    assert sha256(store.path("essai")) == published_v1
    assert leftovers(store) == []


def test_interrupt_cleans_up_and_is_not_disguised(store, typed_frame, published_v1):
    def interrupt():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.publish("essai", _version_2(typed_frame), {}, TYPED_FIELDS, fail_after_write=interrupt)
    assert sha256(store.path("essai")) == published_v1
    assert leftovers(store) == []


def test_republication_is_seen_by_an_open_reader(store, typed_frame):
    store.publish("essai", typed_frame, {"version": 1}, TYPED_FIELDS)
    reader = GeoPackageStore(store.data_dir)  # another process's view: its own connections
    assert reader.get("essai", "a-1")["properties"]["code_insee"] == "06000"
    assert reader.count("essai") == 4
    smaller = _version_2(typed_frame).iloc[:2]
    store.publish("essai", smaller, {"version": 2}, TYPED_FIELDS)
    assert reader.get("essai", "a-1")["properties"]["code_insee"] == "99999"
    assert reader.count("essai") == 2
    assert reader.query("essai").number_matched == 2
    assert reader.metadata("essai")["version"] == 2
    # The writer's own reader too.
    assert store.get("essai", "d-4") is None


def test_a_snapshot_reads_one_publication_and_its_token_names_it(store, typed_frame):
    """The fast JSON reads take the metadata (ETag) and the rows from one snapshot: a
    re-publication in between must not pair the old ETag with the new rows."""
    first = store.publish("essai", typed_frame, {"version": 1}, TYPED_FIELDS)
    token = first["store"]["publication"]
    assert store.metadata("essai") == first  # publish() gives what metadata() will give
    reader = GeoPackageStore(store.data_dir)
    snapshot = reader.snapshot("essai")
    assert snapshot.metadata["store"]["publication"] == token and snapshot.metadata["version"] == 1
    second = store.publish("essai", _version_2(typed_frame).iloc[:2], {"version": 2}, TYPED_FIELDS)
    assert second["store"]["publication"] != token
    # The snapshot taken before keeps reading the first publication, rows and all…
    assert snapshot.get("a-1")["properties"]["code_insee"] == "06000"
    assert snapshot.query(limit=10).number_matched == 4
    assert snapshot.get("d-4") is not None
    # …while a new one reads the second.
    fresh = reader.snapshot("essai")
    assert fresh.metadata["store"]["publication"] == second["store"]["publication"]
    assert fresh.get("a-1")["properties"]["code_insee"] == "99999" and fresh.get("d-4") is None
    assert fresh.query().number_matched == 2
    assert reader.snapshot("absente") is None and reader.snapshot("../x") is None


def _open_deleted_files() -> list[str]:
    targets = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            targets.append(os.readlink(fd))
        except OSError:
            continue
    return [t for t in targets if t.endswith(" (deleted)") and ".gpkg" in t]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_a_replaced_file_is_let_go_with_its_last_snapshot(store, typed_frame):
    """The previous publication's file stays open while a snapshot reads it, and is closed
    as soon as the last one is dropped — not at some later pass of the cyclic GC (a sqlite3
    connection is in a reference cycle of its own)."""
    store.publish("essai", typed_frame, {"version": 1}, TYPED_FIELDS)
    reader = GeoPackageStore(store.data_dir)
    gc.disable()
    try:
        snapshot = reader.snapshot("essai")
        assert snapshot.get("a-1") is not None
        store.publish("essai", _version_2(typed_frame), {"version": 2}, TYPED_FIELDS)
        assert reader.snapshot("essai").metadata["version"] == 2  # the reader moved on
        assert store.metadata("essai")["version"] == 2  # and the writer's own reader
        assert any("essai.gpkg" in t for t in _open_deleted_files())  # the old file, still read
        del snapshot
        assert _open_deleted_files() == []
    finally:
        gc.enable()


def test_unpublished_layer_is_a_store_error(store):
    with pytest.raises(StoreError, match="n'est pas publiée"):
        store.query("absente")
    assert store.published() == []


def test_open_store_chooses_by_settings(tmp_path):
    store = open_store(Settings(data_dir=tmp_path, store=""))
    assert isinstance(store, GeoPackageStore) and isinstance(store, Store)
    # postgresql://… → the PostGIS store (connects lazily: nothing to reach here; see tests/postgis).
    assert type(open_store(Settings(data_dir=tmp_path, store="postgresql://localhost/geo"))).__name__ == "PostGISStore"
    with pytest.raises(StoreError, match="non reconnue"):
        open_store(Settings(data_dir=tmp_path, store="mysql://localhost/geo"))
