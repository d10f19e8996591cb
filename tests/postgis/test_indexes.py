"""Attribute indexes of the PostGIS store: a btree (field, fid) per indexed field, built on
the new table before the swap, used by the statement the store runs for an equality filter
(count and page), and without changing any answer."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from layers.errors import PublicationError
from layers.store.base import Comparison
from layers.store.pg_read import page_statement
from layers.store.postgis import PostGISStore
from tests.store.test_indexes import CASES, FIELDS, INDEXES, check_against_brute_force, communes_frame

from .conftest import drop_schema, leftover_tables, schema_url


@pytest.fixture(scope="module")
def indexed(pg_cluster):
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = schema_url(pg_cluster.url, schema)
    store = PostGISStore(url)
    meta = store.publish("dae", communes_frame(), {"licence": "lo-2.0"}, FIELDS, indexes=INDEXES)
    yield store, url, store.read_layer("dae"), meta
    store.close()
    drop_schema(pg_cluster.url, schema)


def _sql(url: str, query: str, params=()):
    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def test_indexes_are_on_the_published_table_and_in_its_metadata(indexed):
    store, url, _, meta = indexed
    definitions = dict(_sql(
        url, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = 'dae'", [store.schema]
    ))
    for name in INDEXES:
        assert definitions[f"dae__{name}"].endswith(f"USING btree ({name}, fid)")
    assert {"dae_pkey", "dae_id", "dae_geom"} <= set(definitions)
    # The text column's index has the column's collation ("C"): the one comparisons use.
    collations = _sql(
        url,
        "SELECT c.collname FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = x.relnamespace JOIN pg_collation c ON c.oid = i.indcollation[0] "
        "WHERE n.nspname = %s AND x.relname = 'dae__commune'",
        [store.schema],
    )
    assert collations == [("C",)]
    assert meta["indexes"] == list(INDEXES) and store.metadata("dae")["indexes"] == list(INDEXES)
    assert leftover_tables(url, store.schema) == []


def test_republication_keeps_the_names_and_can_drop_an_index(pg_url):
    store = PostGISStore(pg_url)
    try:
        frame = communes_frame(300)
        store.publish("dae", frame, {}, FIELDS, indexes=("commune", "statut"))
        store.publish("dae", frame, {}, FIELDS, indexes=("commune",))
        names = {row[0] for row in _sql(
            pg_url, "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = 'dae'", [store.schema]
        )}
        assert names == {"dae_pkey", "dae_id", "dae_geom", "dae__commune"}
        assert store.metadata("dae")["indexes"] == ["commune"]
    finally:
        store.close()


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _explain(store: PostGISStore, url: str, **query) -> dict:
    info = store._info("dae")
    statement = page_statement(
        info, store._metadata_table, bbox=None, limit=query.pop("limit", 10), offset=query.pop("offset", 0),
        sortby=None, properties=query.pop("properties", None), where=query.pop("where", None), select=None,
        skip_geometry=False, count=True,
    )
    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        # The binary cursor binds the parameters as the store's does.
        with conn.cursor(binary=True) as cursor:
            (text,) = cursor.execute("EXPLAIN (FORMAT JSON) " + statement.sql, statement.params).fetchone()
    return (text if isinstance(text, list) else json.loads(text))[0]["Plan"]


@pytest.mark.parametrize("name,query", [
    ("commune", {"where": Comparison("commune", "=", "Commune 123")}),
    ("commune", {"properties": {"commune": "Commune 124"}, "offset": 20}),
    ("code", {"where": Comparison("code", "=", 38201)}),
    ("code", {"properties": {"code": "38202"}}),
])
def test_equality_filter_reads_the_index_for_the_count_and_the_page(indexed, name, query):
    store, url, _, _ = indexed
    nodes = list(_nodes(_explain(store, url, **query)))
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "dae"]
    scans = [n for n in nodes if n.get("Index Name") == f"dae__{name}"]
    assert len(scans) == 2, nodes  # the count and the page
    # count(*) from the index alone: COPY FREEZE left every page all-visible.
    assert any(n["Node Type"] == "Aggregate" and n["Plans"][0] in scans for n in nodes)
    assert all(n["Node Type"] == "Index Only Scan" for n in scans)
    # The page: LIMIT straight over the index scan, in fid order, no sort in between.
    assert any(n["Node Type"] == "Limit" and n["Plans"][0] in scans for n in nodes)


def test_in_list_reads_the_index(indexed):
    store, url, _, _ = indexed
    nodes = list(_nodes(_explain(store, url, where=Comparison("commune", "in", ("Commune 010", "Commune 011")))))
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "dae"]
    assert any(n.get("Index Name") == "dae__commune" for n in nodes)


@pytest.mark.parametrize("case", CASES)
def test_filtered_results_are_those_of_a_brute_force_filter(indexed, case):
    store, _, frame, _ = indexed
    check_against_brute_force(store, frame, case)


def test_an_index_on_an_unknown_column_publishes_nothing(pg_store, pg_url):
    frame = communes_frame(200)
    pg_store.publish("dae", frame, {}, FIELDS, indexes=("commune",))
    version = pg_store.metadata("dae")["store"]["publication"]
    with pytest.raises(PublicationError, match="« comune ».*n'est pas une colonne publiée") as info:
        pg_store.publish("dae", communes_frame(300, seed=3), {}, FIELDS, indexes=("commune", "comune"))
    assert info.value.field == "comune"
    assert pg_store.metadata("dae")["store"]["publication"] == version and pg_store.count("dae") == 200
    assert leftover_tables(pg_url, pg_store.schema) == []


def test_ingestion_builds_the_catalogue_indexes(pg_store, pg_url, tmp_path):
    from layers.catalogue import load_catalogue
    from layers.pipeline import ingest_file
    from layers.settings import CONFIG_DIR
    from tests.chain.conftest import GEODAE_HEADER, GEODAE_ROWS

    path = tmp_path / "geodae.csv"
    path.write_text("\n".join([GEODAE_HEADER, *GEODAE_ROWS]), encoding="utf-8")
    catalogue = load_catalogue(CONFIG_DIR / "catalogue.yaml")
    ingest_file(catalogue, pg_store, "defibrillateurs", path)
    names = {row[0] for row in _sql(
        pg_url, "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = 'defibrillateurs'",
        [pg_store.schema],
    )}
    wanted = catalogue.layer("defibrillateurs").indexes
    assert {f"defibrillateurs__{name}" for name in wanted} <= names
    assert pg_store.metadata("defibrillateurs")["indexes"] == list(wanted)
    assert sorted(pg_store.query("defibrillateurs", properties={"com_nom": "Grenoble"}).ids) == ["SN-002", "SN-006"]
