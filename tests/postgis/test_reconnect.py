"""The database goes away and comes back: reads fail fast with ``StoreUnavailableError``
(the API's 503) and succeed again once it is back — same store object, no restart."""

from __future__ import annotations

import time

import geopandas as gpd
import pytest
import shapely

from layers.errors import PublicationError, StoreError
from layers.store.pg_pool import PROBE_HOLD_OFF
from layers.store.postgis import PostGISStore, StoreUnavailableError

from .conftest import Cluster

FAIL_WITHIN = 5.0  # seconds: an outage must not hang a worker


def back_up(cluster) -> None:
    """Start the cluster again, and let pg_pool's probe hold-off (0.2 s after a failed probe,
    reads fail without trying: an outage must not cost a connection attempt per request)
    lapse: the test cluster restarts faster than that. From then on, the next read succeeds."""
    cluster.start()
    time.sleep(PROBE_HOLD_OFF + 0.05)


@pytest.fixture(scope="module")
def own_cluster(pg_cluster):  # pg_cluster: same skip rule and the packages are installed
    cluster = Cluster.create(prefix="geocommune-pg-reconnect-")
    yield cluster
    cluster.destroy()


def _frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": ["a", "b"], "nom": ["un", "deux"]},
                            geometry=[shapely.Point(1, 45), shapely.Point(2, 46)], crs="EPSG:4326")


def _timed(call):
    start = time.monotonic()
    try:
        call()
    except StoreUnavailableError as exc:
        return time.monotonic() - start, exc
    raise AssertionError("StoreUnavailableError attendue")


def test_outage_gives_unavailable_then_recovers(own_cluster):
    store = PostGISStore(own_cluster.url + "?schema=panne", pool_size=3)
    try:
        store.publish("couche", _frame(), {}, {"nom": "string"})
        assert store.query("couche").number_matched == 2

        own_cluster.stop()
        elapsed, error = _timed(lambda: store.query("couche"))
        assert elapsed <= FAIL_WITHIN, elapsed
        assert isinstance(error, StoreError)  # the family the HTTP layer maps
        assert str(error).startswith("base de données injoignable : ")
        for call in (lambda: store.get("couche", "a"), lambda: store.count("couche"),
                     lambda: store.metadata("couche"), store.published):
            elapsed, _ = _timed(call)
            assert elapsed <= FAIL_WITHIN, elapsed
        with pytest.raises(PublicationError, match="injoignable"):
            store.publish("couche", _frame(), {}, {"nom": "string"})

        back_up(own_cluster)
        assert store.query("couche").number_matched == 2  # the very next read succeeds
        assert store.get("couche", "b")["properties"] == {"nom": "deux"}
        assert store.count("couche") == 2
    finally:
        own_cluster.start()
        store.close()


def test_restart_between_requests_is_invisible(own_cluster):
    """The server restarts while the pool holds idle connections: they are all broken; the
    next read notices, checks the pool, and answers — no error at all."""
    store = PostGISStore(own_cluster.url + "?schema=redemarrage", pool_size=3)
    try:
        store.publish("couche", _frame(), {}, {"nom": "string"})
        assert store.count("couche") == 2
        own_cluster.stop()
        own_cluster.start()
        assert store.query("couche").number_matched == 2
        assert store.count("couche") == 2
    finally:
        store.close()


def test_unreachable_at_start(own_cluster):
    """A store whose database is not there yet: unavailable, quickly, then fine once it is."""
    own_cluster.stop()
    store = PostGISStore(own_cluster.url + "?schema=tardif")
    try:
        elapsed, _ = _timed(lambda: store.metadata("couche"))
        assert elapsed <= FAIL_WITHIN
        back_up(own_cluster)
        assert store.metadata("couche") is None and store.published() == []
    finally:
        own_cluster.start()
        store.close()
