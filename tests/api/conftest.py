"""A real server (``python -m server.run``, granian) on a free loopback port, serving one
layer published with the store — on both stores.

``store_kind`` parametrises every test that uses a server fixture (``server``,
``own_server``, ``dae_server``) over ``gpkg`` (GeoPackage files in a temporary data folder)
and ``postgis`` (a schema of its own in the test process's throw-away PostgreSQL cluster,
``tests/postgis/cluster.py``; the server gets ``GEOCOMMUNE_STORE=<url>?schema=…``). A test
module or test marked ``gpkg_only`` runs on the GeoPackage store alone (what it checks does
not depend on the store: the HTML pages). ``GEOCOMMUNE_TEST_PG_SKIP=1``
skips the PostGIS variants, as it skips tests/postgis.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import requests
import shapely

from layers.store import GeoPackageStore, Store
from tests.postgis.cluster import acquire_shared, drop_schema, release_shared, schema_url, skip_requested

PROJECT = Path(__file__).resolve().parents[2]
LAYER = "defibrillateurs"  # must be a catalogue layer: only catalogue layers are served
FIELDS = {"nom": "string", "code_insee": "string", "rang": "integer", "acces": "boolean", "jours": "array"}
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
STORE_KINDS = ("gpkg", "postgis")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "gpkg_only: run on the GeoPackage store only (not parametrised by store_kind)")


def pytest_generate_tests(metafunc) -> None:
    """Every test that reaches a server fixture runs once per store."""
    if "store_kind" in metafunc.fixturenames:
        kinds = ["gpkg"] if metafunc.definition.get_closest_marker("gpkg_only") else list(STORE_KINDS)
        metafunc.parametrize("store_kind", kinds, indirect=True, scope="session")


@pytest.fixture(scope="session")
def store_kind(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def api_pg_cluster():
    """The test process's PostgreSQL cluster (shared with tests/postgis), for PostGIS variants."""
    if skip_requested():
        pytest.skip("GEOCOMMUNE_TEST_PG_SKIP=1 : variantes PostGIS sautées")
    cluster = acquire_shared()
    yield cluster
    release_shared()


class ServedStore:
    """A store to publish into, and the environment that points a server at it."""

    def __init__(self, kind: str, data: Path, request) -> None:
        self.kind = kind
        self.data = data
        self.schema: str | None = None
        self._cluster_url = ""
        if kind == "gpkg":
            self.store: Store = GeoPackageStore(data)
            self.env = {"GEOCOMMUNE_STORE": ""}
        else:
            from layers.store.postgis import PostGISStore

            cluster = request.getfixturevalue("api_pg_cluster")
            self._cluster_url = cluster.url
            self.schema = f"api_{uuid.uuid4().hex[:12]}"
            url = schema_url(cluster.url, self.schema)
            self.store = PostGISStore(url, pool_size=2)
            self.env = {"GEOCOMMUNE_STORE": url, "GEOCOMMUNE_PG_POOL": "2"}
        data.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        close = getattr(self.store, "close", None)
        if close is not None:
            close()
        if self.schema is not None:
            try:
                drop_schema(self._cluster_url, self.schema)
            except Exception:  # noqa: BLE001 — the cluster may be gone already (end of session)
                pass


def layer_frame(n: int = 57, seed: int = 3) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(5.0, 7.0, n), 2)
    y = np.round(rng.uniform(43.0, 44.5, n), 2)
    return gpd.GeoDataFrame(
        {
            "id": [f"dae-{i:03d}" for i in range(n)],
            "nom": [f"Défibrillateur n°{i}" for i in range(n)],
            "code_insee": rng.choice(["06088", "06004", "83069"], n),
            "rang": rng.integers(0, 10, n),
            "acces": rng.random(n) < 0.5,
            "jours": [["lundi", "mardi"] if i % 2 else [] for i in range(n)],
        },
        geometry=shapely.points(x, y),
        crs="EPSG:4326",
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    store: Any  # GeoPackageStore or PostGISStore: publish, metadata, count…
    frame: gpd.GeoDataFrame
    process: subprocess.Popen
    log: Path
    layer: str = LAYER
    fields: dict | None = None
    data: Path | None = None  # GEOCOMMUNE_DATA (the generated files are in data/.runtime)
    kind: str = "gpkg"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # granian: graceful stop of main process and workers
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="session")
def server(store_kind, tmp_path_factory, request) -> RunningServer:
    """The shared server of the session (per store): 57 features, 2 workers."""
    served = ServedStore(store_kind, tmp_path_factory.mktemp(f"api-{store_kind}") / "data", request)
    frame = layer_frame()
    served.store.publish(LAYER, frame, {"licence": "lo-2.0", "source": {"name": "dae.csv"}}, FIELDS)
    try:
        url, process, log = start_server(served.data, workers=2, extra_env=served.env)
        try:
            yield RunningServer(url, served.store, frame, process, log, LAYER, FIELDS, served.data, store_kind)
        finally:
            _stop(process)
    finally:
        served.close()


# -- servers of one's own (HTTP layer tests) ---------------------------------------------
# The session ``server`` above is shared; a test that re-publishes its layer, counts its
# requests or needs special values starts its own with ``start_server``.


def start_server(data: Path, workers: int = 2, extra_env: dict[str, str] | None = None):
    """Start ``python -m server.run`` on ``data`` (a free port); returns (url, process, log)."""
    port = free_port()
    log = data.parent / f"server-{port}.log"
    env = {
        **os.environ,
        "GEOCOMMUNE_DATA": str(data),
        "GEOCOMMUNE_HOST": "127.0.0.1",
        "GEOCOMMUNE_PORT": str(port),
        "GEOCOMMUNE_WORKERS": str(workers),
        "GEOCOMMUNE_URL": "",
        **(extra_env or {}),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the server chooses its own (under data/.runtime)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.run"], cwd=PROJECT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"le serveur s'est arrêté au démarrage :\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if requests.get(url + "/", timeout=2).status_code == 200:
                return url, process, log
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            _stop(process)
            pytest.fail(f"le serveur n'a pas répondu en {START_TIMEOUT} s :\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


# Attribute text that JSON must carry unchanged (pygeoapi 0.24 turns < > into &lt; &gt;).
SPECIAL_TEXTS = [
    'a < b > c & "d"',
    "<script>alert('x')</script>",
    "1 &amp; 2 — Défibrillateur n°3 « hall »",
    "tab\tnew\nline \\ back\\slash",
    "emoji 🫀 et œ",
]


def special_frame(n: int = 40) -> gpd.GeoDataFrame:
    frame = layer_frame(n, seed=11)
    frame["nom"] = [SPECIAL_TEXTS[i % len(SPECIAL_TEXTS)] for i in range(n)]
    return frame


@pytest.fixture(scope="module")
def own_server(store_kind, tmp_path_factory, request) -> RunningServer:
    """A server of the test module's own (2 workers), whose layer's ``nom`` holds
    ``SPECIAL_TEXTS``; the module may re-publish it and count its requests."""
    served = ServedStore(store_kind, tmp_path_factory.mktemp(f"own-{store_kind}") / "data", request)
    frame = special_frame()
    served.store.publish(LAYER, frame, {"licence": "lo-2.0", "source": {"name": "dae.csv"}}, FIELDS)
    try:
        url, process, log = start_server(served.data, workers=2, extra_env=served.env)
        try:
            yield RunningServer(url, served.store, frame, process, log, LAYER, FIELDS, served.data, store_kind)
        finally:
            _stop(process)
    finally:
        served.close()


# -- a realistic Géo'DAE layer (national schema field names), as the pipeline publishes it --


@pytest.fixture(scope="session")
def dae_server(store_kind, tmp_path_factory, request) -> RunningServer:
    """The demonstration Géo'DAE export ingested by the real pipeline (about 2 000 DAE,
    schema field names, lists, dates, booleans) and served by its own server (2 workers);
    ``frame`` is the published layer as the store reads it back. Read-only."""
    from layers.catalogue import get_catalogue
    from layers.demo import write_demo
    from layers.pipeline import ingest_file
    from layers.settings import CONFIG_DIR

    root = tmp_path_factory.mktemp(f"dae-{store_kind}")
    files = write_demo(root / "raw")
    served = ServedStore(store_kind, root / "data", request)
    try:
        store = served.store
        ingest_file(get_catalogue(CONFIG_DIR / "catalogue.yaml"), store, LAYER, files[LAYER])
        frame = store.read_layer(LAYER)
        url, process, log = start_server(served.data, workers=2, extra_env=served.env)
        try:
            yield RunningServer(url, store, frame, process, log, LAYER, store.metadata(LAYER)["field_types"],
                                served.data, store_kind)
        finally:
            _stop(process)
    finally:
        served.close()
