"""The README's first command on a fresh data folder: ``geocommune serve`` publishes the
demo data on first run, then serves it — checked over HTTP against the real server: the
layers, RGPD, projections, and the DCAT-AP catalogue naming every layer with its licence
(read as RDF with rdflib's JSON-LD parser and queried, as data.gouv.fr's harvester would)."""

from __future__ import annotations

import rdflib
import pytest
import requests

from layers.catalogue import get_catalogue
from layers.settings import CONFIG_DIR
from tests.api.test_dcat import assert_dcat_ap_mandatory, licences_by_layer
from tests.demo_server import DEMO_LAYERS, DemoServer, serving_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DemoServer:
    with serving_demo(tmp_path_factory.mktemp("serve-demo")) as server:
        yield server


def test_serve_publishes_demo_on_first_run_and_serves_it(demo):
    collections = requests.get(f"{demo.url}/collections?f=json", timeout=10).json()["collections"]
    assert {c["id"] for c in collections} == DEMO_LAYERS
    dae = next(c for c in collections if c["id"] == "defibrillateurs")
    assert dae["title"].startswith("Défibrillateurs")  # French by default
    assert "Retirés avant publication" in dae["description"]
    items = requests.get(f"{demo.url}/collections/defibrillateurs/items?f=json&limit=5", timeout=10).json()
    assert items["numberMatched"] > 1000 and len(items["features"]) == 5
    props = items["features"][0]["properties"]
    assert not [k for k in props if k.startswith(("tel", "expt_tel")) or "mail" in k]
    cycles = requests.get(f"{demo.url}/collections/amenagements-cyclables/items?f=json&limit=1", timeout=10).json()
    lon, lat = cycles["features"][0]["geometry"]["coordinates"][0]
    assert 4.5 < lon < 6.0 and 45.5 < lat < 46.8  # Lambert-93 source, served in WGS84 around Bourg-en-Bresse
    log_text = demo.log.read_text()
    assert "démo" in log_text and "127.0.0.1" in log_text


def test_demo_catalogue_lists_every_layer_with_its_licence(demo):
    catalogue = get_catalogue(CONFIG_DIR / "catalogue.yaml")
    response = requests.get(f"{demo.url}/catalogue.jsonld", timeout=10)
    assert response.status_code == 200, demo.log.read_text()
    assert response.headers["Content-Type"].startswith("application/ld+json")
    graph = rdflib.Graph().parse(data=response.content, format="json-ld")
    assert_dcat_ap_mandatory(graph)
    assert licences_by_layer(graph) == {layer.id: layer.licence.url for layer in catalogue.layers}
    # The same licences, as SPDX identifiers, in the collections' JSON.
    collections = requests.get(f"{demo.url}/collections", params={"f": "json"}, timeout=10).json()["collections"]
    assert {c["id"]: c["license"] for c in collections} == {layer.id: layer.licence.spdx for layer in catalogue.layers}
