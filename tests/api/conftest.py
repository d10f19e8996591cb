"""A real server (``python -m server.run``, gunicorn) on a free loopback port, against a
temporary data folder holding one layer published with the store."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import requests
import shapely

from layers.store import GeoPackageStore

PROJECT = Path(__file__).resolve().parents[2]
LAYER = "defibrillateurs"  # must be a catalogue layer: only catalogue layers are served
FIELDS = {"nom": "string", "code_insee": "string", "rang": "integer", "acces": "boolean", "jours": "array"}
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


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
    store: GeoPackageStore
    frame: gpd.GeoDataFrame
    process: subprocess.Popen
    log: Path
    layer: str = LAYER
    fields: dict | None = None


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # gunicorn: graceful stop of master and workers
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> RunningServer:
    data = tmp_path_factory.mktemp("api") / "data"
    store = GeoPackageStore(data)
    frame = layer_frame()
    store.publish(LAYER, frame, {"licence": "lo-2.0", "source": {"name": "dae.csv"}}, FIELDS)
    port = free_port()
    log = data.parent / "server.log"
    env = {
        **os.environ,
        "GEOCOMMUNE_DATA": str(data),
        "GEOCOMMUNE_HOST": "127.0.0.1",
        "GEOCOMMUNE_PORT": str(port),
        "GEOCOMMUNE_WORKERS": "2",
        "GEOCOMMUNE_URL": "",
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.run"], cwd=PROJECT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"le serveur s'est arrêté au démarrage :\n{log.read_text(errors='replace')[-3000:]}")
            try:
                if requests.get(url + "/", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"le serveur n'a pas répondu en {START_TIMEOUT} s :\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield RunningServer(url, store, frame, process, log, LAYER, FIELDS)
    finally:
        _stop(process)


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
def own_server(tmp_path_factory) -> RunningServer:
    """A server of the test module's own (2 workers), whose layer's ``nom`` holds
    ``SPECIAL_TEXTS``; the module may re-publish it and count its requests."""
    data = tmp_path_factory.mktemp("own") / "data"
    store = GeoPackageStore(data)
    frame = special_frame()
    store.publish(LAYER, frame, {"licence": "lo-2.0", "source": {"name": "dae.csv"}}, FIELDS)
    url, process, log = start_server(data, workers=2)
    try:
        yield RunningServer(url, store, frame, process, log, LAYER, FIELDS)
    finally:
        _stop(process)


# -- a realistic Géo'DAE layer (national schema field names), as the pipeline publishes it --


@pytest.fixture(scope="session")
def dae_server(tmp_path_factory) -> RunningServer:
    """The demonstration Géo'DAE export ingested by the real pipeline (about 2 000 DAE,
    schema field names, lists, dates, booleans) and served by its own server (2 workers);
    ``frame`` is the published layer as the store reads it back. Read-only."""
    from layers.catalogue import get_catalogue
    from layers.demo import write_demo
    from layers.pipeline import ingest_file
    from layers.settings import CONFIG_DIR

    root = tmp_path_factory.mktemp("dae")
    files = write_demo(root / "raw")
    data = root / "data"
    store = GeoPackageStore(data)
    ingest_file(get_catalogue(CONFIG_DIR / "catalogue.yaml"), store, LAYER, files[LAYER])
    frame = store.read_layer(LAYER)
    url, process, log = start_server(data, workers=2)
    try:
        yield RunningServer(url, store, frame, process, log, LAYER, store.metadata(LAYER)["field_types"])
    finally:
        _stop(process)
