"""A real PostgreSQL/PostGIS for the tests: a throw-away cluster of our own (scripts/postgres.sh).

One cluster per test session — with pytest-xdist, one per worker process, each in its own
folder on its own free port — started once and stopped at the end. Every test gets its own
schema (``?schema=…`` in the store URL), dropped afterwards, so tests never see each
other's layers.

``GEOCOMMUNE_TEST_PG_SKIP=1`` skips these tests (e.g. on a machine without apt); by default
a cluster that cannot be started is a test failure, not a skip.
"""

from __future__ import annotations

import datetime as dt
import uuid

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
import shapely

from layers.store import GeoPackageStore
from layers.store.postgis import PostGISStore

from .cluster import Cluster, acquire_shared, drop_schema, release_shared, schema_url, skip_requested

__all__ = ["Cluster", "TYPED_FIELDS", "drop_schema", "leftover_tables", "make_typed_frame", "schema_url"]

TYPED_FIELDS = {
    "code_insee": "string",
    "nombre": "integer",
    "hauteur": "number",
    "ouvert": "boolean",
    "date_pose": "date",
    "maj": "datetime",
    "jours": "array",
}


@pytest.fixture(scope="session")
def pg_cluster() -> Cluster:
    """The test process's cluster (shared with tests/api's PostGIS variants)."""
    if skip_requested():
        pytest.skip("GEOCOMMUNE_TEST_PG_SKIP=1 : tests PostgreSQL sautés")
    cluster = acquire_shared()
    yield cluster
    release_shared()


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """A store URL on a schema of this test's own."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield schema_url(pg_cluster.url, schema)
    try:
        drop_schema(pg_cluster.url, schema)
    except psycopg.Error:
        pass  # a test that stopped the cluster: the folder goes with it


@pytest.fixture
def pg_store(pg_url) -> PostGISStore:
    store = PostGISStore(pg_url)
    yield store
    store.close()


@pytest.fixture
def gpkg_store(tmp_path) -> GeoPackageStore:
    store = GeoPackageStore(tmp_path / "data")
    yield store
    store.close()


@pytest.fixture
def typed_frame() -> gpd.GeoDataFrame:
    return make_typed_frame()


def make_typed_frame() -> gpd.GeoDataFrame:
    """Every stored type, with missing values (the same frame as tests/store's)."""
    return gpd.GeoDataFrame(
        {
            "id": ["a-1", "b-2", "c-3", "d-4"],
            "code_insee": ["06000", None, "2A004", "00001"],
            "nombre": pd.array([1, None, 3, 0], dtype="Int64"),
            "hauteur": [1.5, None, 2.0, -0.25],
            "ouvert": pd.array([True, None, False, True], dtype="boolean"),
            "date_pose": [dt.date(2024, 1, 2), None, dt.date(2023, 5, 6), dt.date(1999, 12, 31)],
            "maj": pd.to_datetime(["2024-01-02T03:04:05Z", None, "2024-06-30T23:59:59Z", "2020-02-29T12:00:00Z"]),
            "jours": [["lundi", "mardi"], None, [], ["dimanche"]],
        },
        geometry=[shapely.Point(2.35, 48.85), shapely.Point(7.26, 43.70), None, shapely.Point(9.0, 42.0)],
        crs="EPSG:4326",
    )


def leftover_tables(url: str, schema: str | None = None) -> list[str]:
    """Half-built ``…__new_…`` tables (there must never be any)."""
    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        rows = conn.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname LIKE '%%\\_\\_new\\_%%' AND (%s::text IS NULL OR n.nspname = %s)",
            [schema, schema],
        ).fetchall()
    return [r[0] for r in rows]
