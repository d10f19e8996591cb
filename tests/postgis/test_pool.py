"""Connection pooling: at most GEOCOMMUNE_PG_POOL connections per process, a pool of its
own in each forked worker (the server prepares in its main process, then forks)."""

from __future__ import annotations

import multiprocessing
import threading

import geopandas as gpd
import psycopg
import pytest
import shapely

from layers.store.postgis import PostGISStore


def _connections(url: str, application: str = "geocommune") -> int:
    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND pid <> pg_backend_pid()",
            [application],
        ).fetchone()[0]


def _publish(store: PostGISStore) -> None:
    frame = gpd.GeoDataFrame({"id": [str(i) for i in range(50)]},
                             geometry=shapely.points([[i / 50, 45] for i in range(50)]), crs="EPSG:4326")
    store.publish("points", frame, {}, {})


def test_pool_is_bounded_per_process(pg_url):
    writer = PostGISStore(pg_url)
    _publish(writer)
    writer.close()
    before = _connections(pg_url)
    store = PostGISStore(pg_url, pool_size=2)
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            for _ in range(20):
                assert store.query("points", bbox=(0, 44, 1, 46), limit=5).number_matched == 50
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert not errors, errors[0]
        assert _connections(pg_url) - before <= 2
    finally:
        store.close()


def _child(store: PostGISStore, queue) -> None:
    try:
        queue.put(("ok", store.count("points"), store.query("points", limit=3).ids))
    except BaseException as exc:  # noqa: BLE001
        queue.put(("error", repr(exc), None))


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_forked_worker_gets_its_own_pool(pg_url):
    store = PostGISStore(pg_url)
    _publish(store)
    try:
        assert store.count("points") == 50  # the "master" has a live pool now
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        workers = [context.Process(target=_child, args=(store, queue)) for _ in range(2)]
        for worker in workers:
            worker.start()
        results = [queue.get(timeout=30) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
        assert results == [("ok", 50, ["0", "1", "2"])] * 2, results
        # The parent's connections were not closed by the children.
        assert store.count("points") == 50 and store.query("points", limit=1).ids == ["0"]
    finally:
        store.close()
