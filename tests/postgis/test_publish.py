"""Publication into PostGIS: the tables as a DBA sees them, refused input, and a failure at
any step leaves the published layer exactly as it was (and no half-built table)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
import shapely

from layers.errors import PublicationError, StoreError
from layers.settings import Settings
from layers.store import Store, open_store
from layers.store import pg_write
from layers.store.postgis import PostGISStore

from .conftest import TYPED_FIELDS, leftover_tables


def _schema(store: PostGISStore) -> str:
    return store.schema


def _sql(url: str, query: str, params=()):
    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def test_tables_indexes_and_types(pg_store, pg_url, typed_frame):
    meta = pg_store.publish(
        "essai", typed_frame, {"licence": "lo-2.0", "counts": {"read": 5, "rejected": 1}}, TYPED_FIELDS
    )
    schema = _schema(pg_store)
    columns = dict(_sql(
        pg_url,
        "SELECT column_name, format_type(a.atttypid, a.atttypmod) FROM information_schema.columns c "
        "JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass "
        "AND a.attname = c.column_name WHERE c.table_schema = %s AND c.table_name = 'essai' ORDER BY c.ordinal_position",
        [schema],
    ))
    assert list(columns) == ["fid", "id", *TYPED_FIELDS, "geom"]
    assert columns["nombre"] == "bigint" and columns["hauteur"] == "double precision"
    assert columns["ouvert"] == "boolean" and columns["date_pose"] == "date"
    assert columns["maj"] == "timestamp with time zone" and columns["jours"] == "jsonb"
    assert columns["geom"] == "geometry(Geometry,4326)"
    indexes = {row[0]: row[1] for row in _sql(
        pg_url, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = 'essai'", [schema]
    )}
    assert any("USING gist (geom)" in d for d in indexes.values())
    assert any("UNIQUE INDEX" in d and "(id)" in d for d in indexes.values())
    assert any("(fid)" in d for d in indexes.values())
    assert all(name.startswith("essai_") for name in indexes)  # renamed with the table
    geometry_columns = _sql(
        pg_url, "SELECT srid, type FROM geometry_columns WHERE f_table_schema = %s AND f_table_name = 'essai'", [schema]
    )
    assert geometry_columns == [(4326, "GEOMETRY")]
    rows = _sql(pg_url, f'SELECT layer_id, feature_count, geometry_count FROM "{schema}".geocommune_metadata')
    assert rows == [("essai", 4, 3)]
    assert meta["counts"] == {"read": 5, "rejected": 1, "published": 4}
    assert meta["extent"] == [2.35, 42.0, 9.0, 48.85] and meta["geometry_count"] == 3
    assert meta["store"] == {"format": "PostGIS", "version": 1, "publication": meta["store"]["publication"]}
    assert len(meta["store"]["publication"]) == 12
    assert pg_store.metadata("essai") == meta and pg_store.count("essai") == 4
    assert pg_store.path("essai").endswith(f"#{schema}.essai") and "***" not in pg_store.path("essai")


def test_read_layer_round_trips_every_type(pg_store, typed_frame):
    pg_store.publish("essai", typed_frame, {}, TYPED_FIELDS)
    back = pg_store.read_layer("essai").set_index("id").loc[typed_frame["id"]]
    assert back["code_insee"].tolist()[0] == "06000" and pd.isna(back["code_insee"].iloc[1])
    assert pd.api.types.is_integer_dtype(back["nombre"]) and back["nombre"].tolist()[::2] == [1, 3]
    assert back["ouvert"].tolist()[0] is True and back["ouvert"].tolist()[2] is False
    assert back["date_pose"].tolist()[0].isoformat() == "2024-01-02" and back["date_pose"].tolist()[1] is None
    assert back["maj"].iloc[0] == pd.Timestamp("2024-01-02T03:04:05Z")
    assert back["jours"].tolist() == [["lundi", "mardi"], None, [], ["dimanche"]]
    assert back.geometry.iloc[2] is None and back.crs.to_epsg() == 4326


def test_strings_survive_csv_and_sql_quoting(pg_store):
    awkward = ['a"b', "", "x,y\nz", "l'apostrophe", "tab\tet \\ barre", "%s %(x)s", "é 中 🚑", "\r\n"]
    frame = gpd.GeoDataFrame(
        {"id": [f"k{i}" for i in range(len(awkward))], "texte": awkward, "a%b": list(range(len(awkward))),
         'gu"illemet': awkward},
        geometry=shapely.points([[0, 45]] * len(awkward)), crs="EPSG:4326",
    )
    pg_store.publish("bizarre", frame, {}, {"texte": "string", "a%b": "integer", 'gu"illemet': "string"})
    got = pg_store.query("bizarre", limit=100, sortby=["a%b"])
    assert [p["texte"] for p in got.properties] == awkward  # "" stays "", not NULL
    assert [p['gu"illemet'] for p in got.properties] == awkward
    assert pg_store.query("bizarre", where=None, properties={"a%b": "3"}).ids == ["k3"]
    assert pg_store.read_layer("bizarre")["texte"].tolist() == awkward


def test_z_and_mixed_geometries(pg_store):
    frame = gpd.GeoDataFrame(
        {"id": ["p", "l", "poly", "z"]},
        geometry=[shapely.Point(1, 45), shapely.LineString([(0, 44), (1, 46)]), shapely.box(0, 44, 1, 45),
                  shapely.Point(2, 46, 120.5)],
        crs="EPSG:4326",
    )
    pg_store.publish("melange", frame, {}, {})
    by_id = {f["id"]: f["geometry"] for f in pg_store.query("melange", limit=10).features}
    assert by_id["z"]["coordinates"] == [2.0, 46.0, 120.5]
    assert by_id["poly"]["type"] == "Polygon"
    assert pg_store.metadata("melange")["geometry_types"] == ["LineString", "Point", "Polygon"]


def test_types_are_inferred_when_not_declared(pg_store):
    frame = gpd.GeoDataFrame(
        {"id": ["1", "2"], "n": [1, 2], "x": [0.5, 1.5], "b": [True, False], "t": ["01", "02"], "l": [[1], [2, 3]]},
        geometry=[shapely.Point(0, 45), shapely.Point(1, 46)],
        crs="EPSG:4326",
    )
    meta = pg_store.publish("infere", frame, {}, {})
    assert meta["field_types"] == {"id": "string", "n": "integer", "x": "number", "b": "boolean", "t": "string", "l": "array"}
    assert pg_store.get("infere", "2")["properties"] == {"n": 2, "x": 1.5, "b": False, "t": "02", "l": [2, 3]}


def test_unreadable_datetime_text_is_refused(pg_store):
    frame = gpd.GeoDataFrame({"id": ["1", "2"], "quand": ["2024-01-02T03:04:05Z", "mardi dernier"]},
                             geometry=[shapely.Point(0, 45), None], crs="EPSG:4326")
    with pytest.raises(PublicationError, match="mardi dernier"):
        pg_store.publish("dates", frame, {}, {"quand": "datetime"})


# -- refused input ---------------------------------------------------------------------------


def test_refuses_duplicate_ids_and_keeps_nothing(pg_store, pg_url, typed_frame):
    typed_frame.loc[3, "id"] = "a-1"
    with pytest.raises(PublicationError, match="a-1") as caught:
        pg_store.publish("essai", typed_frame, {}, TYPED_FIELDS)
    assert "essai" in str(caught.value) and caught.value.field == "id"
    assert pg_store.metadata("essai") is None and pg_store.published() == []
    assert leftover_tables(pg_url, _schema(pg_store)) == []


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: f.drop(columns="id"), "id"),
        (lambda f: f.to_crs("EPSG:2154"), "WGS84"),
        (lambda f: f.assign(id=[None, "b", "c", "d"]), "sans identifiant"),
        (lambda f: f.assign(fid=1), "réservé"),
    ],
)
def test_refuses_bad_frames(pg_store, typed_frame, change, message):
    with pytest.raises(PublicationError, match=message):
        pg_store.publish("essai", change(typed_frame), {}, TYPED_FIELDS)


def test_refuses_unsafe_layer_ids(pg_store, typed_frame):
    for bad in ("../evil", "Majuscule", "", "a b", 'x"; DROP TABLE y; --'):
        with pytest.raises(PublicationError):
            pg_store.publish(bad, typed_frame, {}, TYPED_FIELDS)
    with pytest.raises(StoreError):
        pg_store.query("Majuscule")


# -- atomicity ---------------------------------------------------------------------------------


@pytest.fixture
def published_v1(pg_store, typed_frame):
    pg_store.publish("essai", typed_frame, {"version": 1}, TYPED_FIELDS)
    return pg_store.read_layer("essai")


def _version_2(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.assign(code_insee=["99999"] * len(frame))


def _unchanged(store: PostGISStore, before: gpd.GeoDataFrame, url: str) -> None:
    pd.testing.assert_frame_equal(pd.DataFrame(store.read_layer("essai")), pd.DataFrame(before))
    assert store.metadata("essai")["version"] == 1
    assert store.get("essai", "a-1")["properties"]["code_insee"] == "06000"
    assert leftover_tables(url, store.schema) == []


def test_failure_after_write_keeps_previous_version(pg_store, pg_url, typed_frame, published_v1):
    seen = []

    def explode():
        # The new table is written — and invisible to everybody else.
        seen.append(pg_store.query("essai", limit=10).number_matched)
        raise RuntimeError("panne simulée")

    with pytest.raises(PublicationError, match="essai") as caught:
        pg_store.publish("essai", _version_2(typed_frame), {"version": 2}, TYPED_FIELDS, fail_after_write=explode)
    assert "panne simulée" in str(caught.value) and "conservée" in str(caught.value)
    assert seen == [4]
    _unchanged(pg_store, published_v1, pg_url)


def test_metadata_that_cannot_be_stored_keeps_previous_version(pg_store, pg_url, typed_frame, published_v1):
    with pytest.raises(PublicationError, match="essai"):
        pg_store.publish("essai", _version_2(typed_frame), {"version": 2, "bad": object()}, TYPED_FIELDS)
    _unchanged(pg_store, published_v1, pg_url)


def test_failure_in_the_swap_keeps_previous_version(pg_store, pg_url, typed_frame, published_v1, monkeypatch):
    original = pg_write._swap

    def broken_swap(conn, schema, layer_id, new_name, full, version):
        original(conn, schema, layer_id, new_name, full, version)  # all done but the commit…
        raise psycopg.errors.DiskFull("could not extend file: No space left on device")

    monkeypatch.setattr(pg_write, "_swap", broken_swap)
    with pytest.raises(PublicationError, match="No space left"):
        pg_store.publish("essai", _version_2(typed_frame), {"version": 2}, TYPED_FIELDS)
    _unchanged(pg_store, published_v1, pg_url)


def test_interrupt_rolls_back_and_is_not_disguised(pg_store, pg_url, typed_frame, published_v1):
    def interrupt():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pg_store.publish("essai", _version_2(typed_frame), {}, TYPED_FIELDS, fail_after_write=interrupt)
    _unchanged(pg_store, published_v1, pg_url)


def test_killed_publisher_leaves_nothing(pg_store, pg_url, typed_frame, published_v1):
    """The publishing connection dies mid-way (process killed, network cut): the server
    rolls its transaction back — the old version stays, no table is left behind."""
    def kill_own_backend():
        with psycopg.connect(pg_url.split("?")[0], autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'geocommune' AND state = 'idle in transaction'"
            )

    with pytest.raises(PublicationError, match="conservée"):
        pg_store.publish("essai", _version_2(typed_frame), {"version": 2}, TYPED_FIELDS, fail_after_write=kill_own_backend)
    _unchanged(pg_store, published_v1, pg_url)


def test_republication_is_seen_by_an_open_reader(pg_store, pg_url, typed_frame):
    pg_store.publish("essai", typed_frame, {"version": 1}, TYPED_FIELDS)
    reader = PostGISStore(pg_url)  # another process's view: its own pool and cache
    try:
        assert reader.get("essai", "a-1")["properties"]["code_insee"] == "06000"
        assert reader.query("essai", sortby=["nombre"]).number_matched == 4
        first = reader.metadata("essai")["store"]["publication"]
        pg_store.publish("essai", _version_2(typed_frame).iloc[:2], {"version": 2}, TYPED_FIELDS)
        assert reader.get("essai", "a-1")["properties"]["code_insee"] == "99999"
        assert reader.count("essai") == 2 and reader.query("essai").number_matched == 2
        assert reader.metadata("essai")["version"] == 2
        assert reader.metadata("essai")["store"]["publication"] != first  # a new token per publication
        # A new version with other columns and types: the reader's cached column list is
        # noticed as stale by the next statement, not served.
        changed = gpd.GeoDataFrame(
            {"id": ["z"], "nombre": ["plus un nombre"], "nouveau": [1.5]}, geometry=[shapely.Point(0, 45)], crs="EPSG:4326"
        )
        pg_store.publish("essai", changed, {"version": 3}, {"nombre": "string", "nouveau": "number"})
        assert reader.query("essai", sortby=["nouveau"]).properties == [{"nombre": "plus un nombre", "nouveau": 1.5}]
        assert reader.get("essai", "z")["properties"]["nombre"] == "plus un nombre"
        assert reader.query("essai", properties={"nombre": "plus un nombre"}).ids == ["z"]
        assert reader.read_layer("essai")["nouveau"].tolist() == [1.5]
    finally:
        reader.close()


def test_unpublished_layer_is_a_store_error(pg_store):
    with pytest.raises(StoreError, match="n'est pas publiée"):
        pg_store.query("absente")
    with pytest.raises(StoreError, match="n'est pas publiée"):
        pg_store.count("absente")
    with pytest.raises(StoreError, match="n'est pas publiée"):
        pg_store.get("absente", "1")
    assert pg_store.published() == [] and pg_store.metadata("absente") is None


def test_open_store_chooses_postgis_by_url(pg_url, tmp_path):
    store = open_store(Settings(data_dir=tmp_path, store=pg_url, pg_pool=2))
    try:
        assert isinstance(store, PostGISStore) and isinstance(store, Store)
        assert store.pool_size == 2 and store.published() == []
    finally:
        store.close()
    with pytest.raises(StoreError, match="non reconnue"):
        open_store(Settings(data_dir=tmp_path, store="mysql://localhost/geo"))


def test_counts_of_filtered_queries_follow_republication(pg_store, typed_frame):
    """numberMatched of a filtered query is counted once per layer version, then reused by
    the next pages — never across a re-publication."""
    pg_store.publish("essai", typed_frame, {}, TYPED_FIELDS)
    where = {"properties": {"ouvert": "true"}}
    assert pg_store.query("essai", limit=1, **where).number_matched == 2
    assert len(pg_store._counts._entries) == 1
    assert pg_store.query("essai", limit=1, offset=1, **where).number_matched == 2
    pg_store.publish("essai", typed_frame.assign(ouvert=pd.array([True] * 4, dtype="boolean")), {}, TYPED_FIELDS)
    assert pg_store.query("essai", limit=1, offset=1, **where).number_matched == 4
    other = PostGISStore(pg_store.url)  # another worker that had cached the old count
    try:
        other._counts = pg_store._counts
        assert other.query("essai", limit=1, **where).number_matched == 4
    finally:
        other.close()
