"""The README's first command (``geocommune serve`` on a fresh data folder publishes the demo
data) serves a DCAT-AP catalogue naming every catalogue layer with its licence — read as
RDF (rdflib's JSON-LD parser) and queried, as data.gouv.fr's harvester would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import rdflib
import requests

from layers.catalogue import get_catalogue
from layers.settings import CONFIG_DIR
from tests.api.conftest import free_port
from tests.api.test_dcat import assert_dcat_ap_mandatory, licences_by_layer

ROOT = Path(__file__).resolve().parent.parent


def test_demo_catalogue_lists_every_layer_with_its_licence(tmp_path):
    catalogue = get_catalogue(CONFIG_DIR / "catalogue.yaml")
    port = free_port()
    env = {**os.environ, "GEOCOMMUNE_DEMO_DIR": str(tmp_path / "demo"), "PYTHONPATH": str(ROOT), "GEOCOMMUNE_URL": ""}
    log = open(tmp_path / "serve.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "--data", str(tmp_path / "data"), "serve", "--port", str(port),
         "--workers", "1"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        response = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                response = requests.get(f"{url}/catalogue.jsonld", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.5)
        assert response is not None and response.status_code == 200, (tmp_path / "serve.log").read_text()
        assert response.headers["Content-Type"].startswith("application/ld+json")
        graph = rdflib.Graph().parse(data=response.content, format="json-ld")
        assert_dcat_ap_mandatory(graph)
        assert licences_by_layer(graph) == {layer.id: layer.licence.url for layer in catalogue.layers}
        # The same licences, as SPDX identifiers, in the collections' JSON.
        collections = requests.get(f"{url}/collections", params={"f": "json"}, timeout=10).json()["collections"]
        assert {c["id"]: c["license"] for c in collections} == {layer.id: layer.licence.spdx for layer in catalogue.layers}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        log.close()
