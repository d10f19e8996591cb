"""Usage counters without a server: the stores' upserts under concurrent processes, the
worker buffer's failure handling, and what a download request counts as."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sqlite3
import uuid

import psycopg
import pytest
from flask import Blueprint, Flask, Response

from layers.settings import Settings
from layers.store.usage import COLUMNS, SQLiteUsage, UsageKey, usage_for
from server.usage import register
from server.usage.buffer import UsageBuffer
from server.usage.state import EXTENSION
from tests.postgis.cluster import drop_schema, schema_url

ROUNDS = 100
DAY = "2026-03-01"
KEYS = [UsageKey(DAY, "defibrillateurs", "items", "json"), UsageKey(DAY, "defibrillateurs", "download", "csv"),
        UsageKey("2026-03-02", "amenagements-cyclables", "item", "html")]


def _open(where: str):
    if where.startswith("postgresql://"):
        from layers.store.postgis import PostGISStore

        return usage_for(PostGISStore(where, pool_size=1))
    return SQLiteUsage(where)


def _hammer(where: str, start, worker: int) -> None:
    """One process: ROUNDS batches, each adding 1 to the first key and ``worker + 1`` to the others."""
    usage = _open(where)
    start.wait(30)
    for _ in range(ROUNDS):
        usage.add({KEYS[0]: 1, KEYS[1]: worker + 1, KEYS[2]: 2})
    usage.close()


def _run_two_processes(where: str) -> None:
    context = multiprocessing.get_context("spawn")  # not fork: the test process has threads
    start = context.Event()
    processes = [context.Process(target=_hammer, args=(where, start, worker)) for worker in range(2)]
    for process in processes:
        process.start()
    start.set()  # both write at the same time
    for process in processes:
        process.join(120)
        assert process.exitcode == 0


FRESH_FILES = 25


def _first_writes(root: str, barrier) -> None:
    """One process: one batch into each of FRESH_FILES new folders, at the same moment as
    the other process (what two workers do when both flush for the first time at exit)."""
    for i in range(FRESH_FILES):
        barrier.wait(30)
        usage = SQLiteUsage(f"{root}/{i}")
        usage.add({KEYS[0]: 1})
        usage.close()


def test_sqlite_two_processes_creating_the_file_at_once_lose_nothing(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    processes = [context.Process(target=_first_writes, args=(str(tmp_path), barrier)) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    for i in range(FRESH_FILES):
        rows = SQLiteUsage(tmp_path / str(i)).read(dt.date(2026, 3, 1), dt.date(2026, 3, 1))
        assert _as_dict(rows) == {KEYS[0]: 2}, i


def _expected() -> dict[UsageKey, int]:
    return {KEYS[0]: 2 * ROUNDS, KEYS[1]: ROUNDS * (1 + 2), KEYS[2]: 2 * 2 * ROUNDS}


def _as_dict(rows) -> dict[UsageKey, int]:
    return {UsageKey(r.day, r.layer, r.kind, r.format): r.n for r in rows}


def test_sqlite_upserts_from_two_processes_add_up_exactly(tmp_path):
    _run_two_processes(str(tmp_path))
    usage = SQLiteUsage(tmp_path)
    rows = usage.read(dt.date(2026, 3, 1), dt.date(2026, 3, 2))
    assert _as_dict(rows) == _expected()
    assert _as_dict(usage.read(dt.date(2026, 3, 1), dt.date(2026, 3, 1), "defibrillateurs")) == {
        k: v for k, v in _expected().items() if k.day == DAY}
    with sqlite3.connect(tmp_path / "usage.sqlite") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert tuple(r[1] for r in raw.execute("PRAGMA table_info(usage)")) == COLUMNS


@pytest.fixture
def pg_usage_url(api_pg_cluster):
    schema = f"usage_{uuid.uuid4().hex[:12]}"
    yield schema_url(api_pg_cluster.url, schema)
    drop_schema(api_pg_cluster.url, schema)


def test_postgis_upserts_from_two_processes_add_up_exactly(pg_usage_url, api_pg_cluster):
    # The table does not exist yet: both processes may try to create it at once.
    _run_two_processes(pg_usage_url)
    usage = _open(pg_usage_url)
    assert _as_dict(usage.read(dt.date(2026, 3, 1), dt.date(2026, 3, 2))) == _expected()
    assert _as_dict(usage.read(dt.date(2026, 3, 2), dt.date(2026, 3, 2), "amenagements-cyclables")) == {
        KEYS[2]: 4 * ROUNDS}
    schema = pg_usage_url.rsplit("schema=", 1)[1]
    with psycopg.connect(api_pg_cluster.url) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = 'geocommune_usage' ORDER BY ordinal_position", [schema]).fetchall()
    assert tuple(c[0] for c in columns) == COLUMNS


def test_postgis_read_before_any_write_is_empty(pg_usage_url):
    assert _open(pg_usage_url).read(dt.date(2026, 1, 1), dt.date(2026, 12, 31)) == []


def test_buffer_keeps_counts_while_the_store_fails_and_writes_them_once_back(tmp_path, caplog):
    blocker = tmp_path / "usage.sqlite"
    blocker.mkdir()  # a folder where the database file should be: every open fails
    buffer = UsageBuffer(lambda: SQLiteUsage(tmp_path), interval=3600)
    key = UsageKey(DAY, "defibrillateurs", "items", "json")
    for _ in range(3):
        buffer.add(key)
    with caplog.at_level("WARNING", logger="geocommune.usage"):
        assert buffer.flush() is False
        buffer.add(key)
        assert buffer.flush() is False
    assert buffer.pending() == {key: 4}
    failures = [r for r in caplog.records if "gardés en mémoire" in r.getMessage()]
    assert len(failures) == 1  # said once, not at every attempt
    blocker.rmdir()  # the store is back
    with caplog.at_level("WARNING", logger="geocommune.usage"):
        assert buffer.flush() is True
    assert any("rétablie" in r.getMessage() for r in caplog.records)
    assert buffer.pending() == {}
    assert _as_dict(SQLiteUsage(tmp_path).read(dt.date(2026, 3, 1), dt.date(2026, 3, 1))) == {key: 4}
    buffer.stop()


# -- what a download counts as (the downloads blueprint's endpoint, as named in counting.py) ----


def _download_app(tmp_path, **settings) -> Flask:
    """A Flask app with an endpoint named and shaped like the downloads' one
    (``geocommune_downloads.download``), counted by the usage hook."""
    app = Flask(__name__)
    downloads = Blueprint("geocommune_downloads", __name__)

    @downloads.get("/collections/<collection_id>/download.<fmt>")
    def download(collection_id: str, fmt: str) -> Response:
        if fmt not in ("geojson", "csv", "gpkg", "fgb"):
            return Response("format inconnu", status=404)
        return Response(b"...", content_type="application/octet-stream")

    app.register_blueprint(downloads)
    register(app, Settings(data_dir=tmp_path, usage_flush=0.0, **settings))
    return app


def test_downloads_count_per_layer_and_format(tmp_path):
    app = _download_app(tmp_path)
    client = app.test_client()
    for path, status in [("/collections/defibrillateurs/download.csv", 200),
                         ("/collections/defibrillateurs/download.csv", 200),
                         ("/collections/defibrillateurs/download.gpkg", 200),
                         ("/collections/defibrillateurs/download.xlsx", 404),  # refused: not counted
                         ("/collections/inconnue/download.csv", 200)]:  # not a served layer: not counted
        assert client.get(path).status_code == status
    assert client.head("/collections/defibrillateurs/download.csv").status_code == 200  # HEAD reads nothing
    rows = app.extensions[EXTENSION].buffer.usage.read(dt.date(2000, 1, 1), dt.date(2100, 1, 1))
    counted = {(r.layer, r.kind, r.format): r.n for r in rows}
    assert counted == {("defibrillateurs", "download", "csv"): 2, ("defibrillateurs", "download", "gpkg"): 1}
    report = client.get("/stats.json?layer=defibrillateurs").get_json()
    totals = report["layers"]["defibrillateurs"]["totals"]
    assert totals["downloads"] == {"csv": 2, "gpkg": 1} and totals["api"] == {}
    assert totals["downloads_count"] == 3 and totals["requests"] == 0


def test_counting_disabled_counts_nothing_but_stats_still_answers(tmp_path):
    app = _download_app(tmp_path, usage=False)
    client = app.test_client()
    assert client.get("/collections/defibrillateurs/download.csv").status_code == 200
    report = client.get("/stats?f=json").get_json()
    assert report["layers"]["defibrillateurs"]["days"] == []
    assert SQLiteUsage(tmp_path).read(dt.date(2000, 1, 1), dt.date(2100, 1, 1)) == []
