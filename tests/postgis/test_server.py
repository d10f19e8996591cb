"""The API on PostGIS when the database misbehaves: a real server (granian, 2 workers) on a
cluster of this module's own, which the tests stop and start.

* the database goes away: items, item, queryables, schema and /health answer 503 JSON with a
  French message, quickly, without a traceback in the log; what needs no data (landing page,
  collection description) is still served;
* it comes back: the very next requests succeed, on both workers — no restart;
* the server starts while the database is down: it starts, says so in one line, answers 503
  on data, and serves them once the database is there;
* connections: one pool per worker, none kept by the master;
* re-publications (with a new column) while clients read through the API: every answer is
  one version, whole — never an error, never a mix (each worker's cached column list is
  checked against the version its statement read);
* the generated files never hold the database password.

The API behaviour itself on PostGIS (Parts 1–3, CRS, ETag…) is tests/api, parametrised over
both stores.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
import requests
import yaml

from layers.catalogue import get_catalogue
from layers.settings import Settings
from layers.store.pg_pool import PROBE_HOLD_OFF
from layers.store.postgis import PostGISStore, StoreUnavailableError
from server.http.errors import DATABASE_UNAVAILABLE_MESSAGE
from tests.api.conftest import FIELDS, LAYER, _stop, layer_frame, start_server

from .conftest import Cluster

ITEMS = f"/collections/{LAYER}/items"
FAIL_WITHIN = 5.0  # seconds: an outage must not hang a request
TIMEOUT = 15
WORKERS = 2
POOL = 2


@pytest.fixture(scope="module")
def own_cluster(pg_cluster):  # pg_cluster: same skip rule, and the packages are installed
    cluster = Cluster.create(prefix="geocommune-pg-server-")
    yield cluster
    cluster.destroy()


def _publish(url: str, n: int = 20) -> None:
    store = PostGISStore(url)
    try:
        store.publish(LAYER, layer_frame(n), {"licence": "lo-2.0", "source": {"name": "dae.csv"}}, FIELDS)
    finally:
        store.close()


def _serve(tmp_path, url: str):
    data = tmp_path / "data"
    data.mkdir()
    env = {"GEOCOMMUNE_STORE": url, "GEOCOMMUNE_PG_POOL": str(POOL)}
    return start_server(data, workers=WORKERS, extra_env=env)


def _get(url: str, path: str, **params) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(url + path, params=params, timeout=TIMEOUT)
    return response, time.monotonic() - started


DATA_PATHS = [ITEMS, f"{ITEMS}/dae-001", f"/collections/{LAYER}/queryables", f"/collections/{LAYER}/schema"]


def _assert_unavailable(response: requests.Response, elapsed: float) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert elapsed <= FAIL_WITHIN, elapsed
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"code": "ServiceUnavailable", "description": DATABASE_UNAVAILABLE_MESSAGE}
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Cache-Control"] == "no-store"


def _assert_served(url: str) -> None:
    page = requests.get(url + ITEMS, params={"f": "json", "limit": 100}, timeout=TIMEOUT)
    assert page.status_code == 200, page.text[:500]
    assert page.json()["numberMatched"] == 20
    assert requests.get(f"{url}{ITEMS}/dae-001", params={"f": "json"}, timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{url}/collections/{LAYER}/queryables", params={"f": "json"}, timeout=TIMEOUT).status_code == 200


def _after_restart() -> None:
    """A worker whose last probe of the database failed less than ``PROBE_HOLD_OFF`` (0.2 s)
    ago answers 503 without trying again (pg_pool: an outage must not cost a connection
    attempt per request); the test cluster restarts faster than that. Past it, the very next
    request on every worker must succeed."""
    time.sleep(PROBE_HOLD_OFF + 0.05)


def _server_connections(cluster: Cluster) -> int:
    """Client connections opened by geocommune processes (application_name), this one's excluded."""
    with psycopg.connect(cluster.url, autocommit=True, application_name="compteur") as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND application_name = 'geocommune'"
        ).fetchone()[0]


def test_outage_gives_503_then_recovers_without_restart(own_cluster, tmp_path):
    url = own_cluster.url + "?schema=panne_api"
    _publish(url)
    server, process, log = _serve(tmp_path, url)
    try:
        for _ in range(2 * WORKERS):
            _assert_served(server)  # every worker has its pool
        health = requests.get(server + "/health", timeout=TIMEOUT)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert health.json()["store"]["kind"] == "PostGISStore"
        # One pool per worker (GEOCOMMUNE_PG_POOL at most each), nothing kept by the master.
        assert 1 <= _server_connections(own_cluster) <= WORKERS * POOL

        own_cluster.stop()
        for _ in range(2):  # both workers, most likely: each answers 503 on its own
            for path in DATA_PATHS:
                _assert_unavailable(*_get(server, path, f="json"))
        response, elapsed = _get(server, ITEMS, f="json", limit=5, sortby="-rang", code_insee="06088")
        _assert_unavailable(response, elapsed)
        health, elapsed = _get(server, "/health")
        assert health.status_code == 503 and elapsed <= FAIL_WITHIN
        body = health.json()
        assert body["status"] == "error" and body["store"]["reachable"] is False
        assert body["message"].startswith("base de données injoignable")
        # What needs no data is still served: landing page, collections, their description.
        for path in ("/", "/collections", f"/collections/{LAYER}", "/conformance"):
            assert requests.get(server + path, params={"f": "json"}, timeout=TIMEOUT).status_code == 200, path

        own_cluster.start()
        _after_restart()
        for _ in range(2 * WORKERS):  # then every request, on every worker
            _assert_served(server)
        health = requests.get(server + "/health", timeout=TIMEOUT)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert process.poll() is None  # same server, no restart
    finally:
        own_cluster.start()
        _stop(process)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    assert "base de données injoignable" in text  # the detail is in the log, as a warning


def test_server_starts_while_the_database_is_down(own_cluster, tmp_path):
    url = own_cluster.url + "?schema=demarrage_api"
    _publish(url)
    own_cluster.stop()
    process = None
    try:
        server, process, log = _serve(tmp_path, url)  # waits for the landing page: it starts
        collections = requests.get(server + "/collections", params={"f": "json"}, timeout=TIMEOUT).json()
        assert LAYER in {c["id"] for c in collections["collections"]}  # from the catalogue
        for path in DATA_PATHS:
            _assert_unavailable(*_get(server, path, f="json"))
        assert requests.get(server + "/health", timeout=TIMEOUT).status_code == 503

        own_cluster.start()
        _after_restart()
        for _ in range(2 * WORKERS):
            _assert_served(server)
        # The other catalogue layers were served on trust: never published, they are
        # unknown (404), and not a fault for /health.
        other = next(c["id"] for c in collections["collections"] if c["id"] != LAYER)
        missing = requests.get(f"{server}/collections/{other}/items", params={"f": "json"}, timeout=TIMEOUT)
        assert missing.status_code == 404 and "n'est pas publiée" in missing.json()["description"]
        health = requests.get(server + "/health", timeout=TIMEOUT)
        assert health.status_code == 200, health.text
        states = {layer["id"]: layer for layer in health.json()["layers"]}
        assert states[LAYER]["readable"] and states[other] == {"id": other, "readable": False, "published": False}
    finally:
        own_cluster.start()
        if process is not None:
            _stop(process)
    text = log.read_text(errors="replace")
    assert "stockage injoignable au démarrage" in text
    assert "Traceback" not in text, text[-3000:]


def test_generated_files_hold_no_password(pg_cluster, pg_url, tmp_path):
    """The provider's ``data`` is the password-free location; the URL with its credentials
    reaches the provider through the settings, never through the files under data/.runtime."""
    from server.app import create_app
    from server.pygeoapi_config import PROVIDER_NAME, build_config

    _publish(pg_url)
    secret = "mot-de-passe-secret"
    with_password = pg_url.replace("postgresql://geocommune@", f"postgresql://geocommune:{secret}@")
    assert secret in with_password  # the cluster trusts local connections: any password works
    settings = Settings(data_dir=tmp_path / "data", store=with_password, port=5998, url="")
    store = PostGISStore(with_password)
    try:
        config = build_config(settings, get_catalogue(settings.catalogue), store)
    finally:
        store.close()
    provider = config["resources"][LAYER]["providers"][0]
    assert provider["name"] == PROVIDER_NAME
    assert provider["data"] == store.path(LAYER) and provider["data"].endswith(f"#{pg_url.split('schema=')[1]}.{LAYER}")
    assert secret not in yaml.safe_dump(config)

    app = create_app(settings)
    client = app.test_client()
    response = client.get(ITEMS, query_string={"f": "json", "limit": 3})
    assert response.status_code == 200 and response.get_json()["numberMatched"] == 20
    for path in (settings.data_dir / ".runtime").rglob("*.yml"):
        assert secret not in path.read_text(encoding="utf-8"), path

    # The master closes its connections once the application is loaded; the store reopens.
    from server.provider import close_stores

    close_stores()
    assert client.get(f"{ITEMS}/dae-001", query_string={"f": "json"}).status_code == 200


def test_provider_refuses_a_store_url_for_another_database(pg_url, monkeypatch):
    from pygeoapi.provider.base import ProviderConnectionError

    from server import provider

    monkeypatch.setattr(provider, "_settings", Settings(store=pg_url))
    located = PostGISStore(pg_url).path(LAYER)
    assert provider.store_for_data(located, LAYER).path(LAYER) == located
    with pytest.raises(ProviderConnectionError, match="ne désigne pas la base"):
        provider.store_for_data(located.replace("#", "_ailleurs#"), LAYER)
    monkeypatch.setattr(provider, "_settings", Settings(store=""))
    with pytest.raises(ProviderConnectionError, match="GEOCOMMUNE_STORE"):
        provider.store_for_data(located, LAYER)


def test_unavailable_store_is_the_503_row_of_the_error_table():
    from server.http.errors import error_response, mapping_for

    error = StoreUnavailableError("base de données injoignable : connection refused (127.0.0.1:5432)")
    assert mapping_for(error).status == 503
    response = error_response(error)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert b"127.0.0.1" not in response.data  # the driver's detail stays in the log


def test_republication_under_api_readers_is_atomic(pg_url, tmp_path):
    """Two versions, swapped back and forth while 4 clients read pages, filters and items:
    A = 20 features, the catalogue fields; B = 7 features and one more column."""
    a = layer_frame(20)
    b = layer_frame(7, seed=5)
    b["id"] = [f"b-{i}" for i in range(len(b))]
    b["remarque"] = "version B"
    fields_b = {**FIELDS, "remarque": "string"}
    publisher = PostGISStore(pg_url)
    publisher.publish(LAYER, a, {"licence": "lo-2.0"}, FIELDS)
    server, process, log = _serve(tmp_path, pg_url)
    problems: list[str] = []
    stop = threading.Event()
    reads = [0]

    def check(response: requests.Response, whole: bool) -> None:
        if response.status_code != 200:
            problems.append(f"{response.status_code} {response.text[:300]}")
            return
        body = response.json()
        features = body.get("features", [body] if body.get("type") == "Feature" else [])
        ids = {f["id"][:2] for f in features}
        extra = {("remarque" in f["properties"]) for f in features}
        matched = body.get("numberMatched")
        if len(ids) > 1 or len(extra) > 1 or (ids == {"b-"}) != (extra == {True}) and features:
            problems.append(f"mélange de versions : {ids} {extra}")
        if whole and matched not in (20, 7):
            problems.append(f"numberMatched {matched}")
        if whole and ids and matched != (7 if ids == {"b-"} else 20):
            problems.append(f"numberMatched {matched} pour {ids}")

    def reader(n: int) -> None:
        session = requests.Session()
        while not stop.is_set():
            for params in ({"f": "json", "limit": 100}, {"f": "json", "limit": 3, "sortby": "-rang"},
                           {"f": "json", "filter": "rang >= 0", "limit": 100}, {"f": "json", "acces": "true"}):
                whole = "acces" not in params  # rang >= 0 holds for every feature
                check(session.get(server + ITEMS, params=params, timeout=TIMEOUT), whole)
                reads[0] += 1
            response = session.get(f"{server}{ITEMS}/dae-001", params={"f": "json"}, timeout=TIMEOUT)
            if response.status_code not in (200, 404):  # dae-001 exists in A only
                problems.append(f"item {response.status_code} {response.text[:300]}")

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(4)]
    try:
        for thread in threads:
            thread.start()
        for round_ in range(6):
            time.sleep(0.3)
            if round_ % 2 == 0:
                publisher.publish(LAYER, b, {"licence": "lo-2.0"}, fields_b)
            else:
                publisher.publish(LAYER, a, {"licence": "lo-2.0"}, FIELDS)
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        _stop(process)
        publisher.close()
    assert not problems, problems[:10]
    assert reads[0] >= 20, reads[0]
    assert "Traceback" not in log.read_text(errors="replace")
