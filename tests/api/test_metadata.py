"""Collection metadata (licence, producer, publisher, frequency, last update, source, schema,
counts, RGPD note) in ``/collections`` and ``/collections/{id}``, on both stores, through
the whole HTTP layer (JSON text, ETag / 304, gzip); the « Métadonnées » block of the HTML page."""

from __future__ import annotations

import gzip
import json

import pytest
import requests

from layers.catalogue import get_catalogue
from layers.settings import CONFIG_DIR
from server.collection_metadata import FREQUENCY_CODES, frequency_uri
from tests.api.conftest import FIELDS, layer_frame

CATALOGUE = get_catalogue(CONFIG_DIR / "catalogue.yaml")


def _collection(server, **params) -> requests.Response:
    response = requests.get(f"{server.url}/collections/{server.layer}", params={"f": "json", **params}, timeout=10)
    assert response.status_code == 200, response.text
    return response


def test_every_catalogue_frequency_has_an_eu_frequency_uri():
    schema = json.loads((CONFIG_DIR / "catalogue.schema.json").read_text(encoding="utf-8"))
    allowed = schema["properties"]["layers"]["items"]["properties"]["update_frequency"]["enum"]
    assert set(allowed) == set(FREQUENCY_CODES)
    assert frequency_uri("monthly") == "http://publications.europa.eu/resource/authority/frequency/MONTHLY"


def test_collection_carries_catalogue_and_publication_metadata(server):
    spec = CATALOGUE.layer(server.layer)
    stored = server.store.metadata(server.layer)
    body = _collection(server).json()
    assert body["license"] == "etalab-2.0"  # SPDX
    assert body["updated"] == stored["published_at"]
    meta = body["metadata"]
    assert meta["licence"] == {"spdx": "etalab-2.0", "name": spec.licence.name, "url": spec.licence.url}
    assert meta["producer"] == spec.producer
    assert meta["publisher"] == {k: CATALOGUE.publisher[k] for k in ("name", "url", "email")}
    assert meta["updateFrequency"] == {
        "code": "monthly",
        "uri": "http://publications.europa.eu/resource/authority/frequency/MONTHLY",
        "label": {"fr": "mensuelle", "en": "monthly"},
    }
    assert meta["lastUpdate"] == stored["published_at"]
    # What the last publication said (the fixture's "dae.csv", unless a test re-published it).
    assert meta["source"]["file"] == (stored.get("source") or {}).get("name")
    assert meta["schema"] == {"name": "schema-dae", "title": spec.schema.title, "version": "1.0.7",
                              "url": "https://schema.data.gouv.fr/atlasante/schema-dae/1.0.7/"}
    assert meta["counts"]["published"] == stored["counts"]["published"] == server.store.count(server.layer)
    rgpd = meta["rgpd"]
    assert rgpd["note"] == spec.rgpd.note and rgpd["note"]["fr"].startswith("Retirés avant publication")
    assert rgpd["removedFields"] == list(spec.rgpd.drop) and "tel1" in rgpd["removedFields"]
    assert rgpd["blankedWhenNaturalPerson"] == {"test": "expt_rais", "fields": ["expt_rais", "expt_siren", "expt_siret"]}
    assert meta["dcat"] == f"{server.url}/catalogue.jsonld"
    # pygeoapi's own members and links are still there, the DCAT link added before the schema's.
    assert body["id"] == server.layer and body["itemType"] == "feature"
    rels = [(link["rel"], link["href"]) for link in body["links"]]
    assert ("license", spec.licence.url) in rels
    assert ("describedby", f"{server.url}/catalogue.jsonld") in rels
    assert [href for rel, href in rels if rel == "describedby"][-1] == spec.schema.url


def test_collections_list_carries_the_metadata_of_each(server):
    response = requests.get(f"{server.url}/collections", params={"f": "json"}, timeout=10)
    assert response.status_code == 200
    (collection,) = response.json()["collections"]
    assert collection["id"] == server.layer
    assert collection["license"] == "etalab-2.0"
    assert collection["metadata"]["updateFrequency"]["code"] == "monthly"


def test_metadata_only_in_json_not_in_jsonld_or_html(server):
    jsonld = requests.get(f"{server.url}/collections/{server.layer}", params={"f": "jsonld"}, timeout=10)
    assert jsonld.status_code == 200 and jsonld.headers["Content-Type"].startswith("application/ld+json")
    assert "metadata" not in jsonld.json()  # pygeoapi's schema.org document, left alone


def test_etag_and_304_still_work_with_the_members(server):
    first = _collection(server)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    again = requests.get(f"{server.url}/collections/{server.layer}", params={"f": "json"},
                         headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304 and again.content == b""
    assert _collection(server).json()["metadata"] == first.json()["metadata"]


def test_gzip_still_applies_to_the_extended_body(server):
    response = requests.get(f"{server.url}/collections/{server.layer}", params={"f": "json"},
                            headers={"Accept-Encoding": "gzip"}, timeout=10, stream=True)
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(response.raw.read()))
    assert body["license"] == "etalab-2.0" and "rgpd" in body["metadata"]


def test_landing_page_links_to_the_dcat_catalogue(server):
    response = requests.get(f"{server.url}/", params={"f": "json"}, timeout=10)
    assert response.status_code == 200
    links = [link for link in response.json()["links"] if link["href"] == f"{server.url}/catalogue.jsonld"]
    assert links and links[0]["type"] == "application/ld+json" and links[0]["rel"] == "describedby"


def test_pipeline_publication_metadata_and_what_rgpd_removed(dae_server):
    """The Géo'DAE demo through the real pipeline: counts, source hash and the RGPD
    step's own counts of the last publication."""
    stored = dae_server.store.metadata(dae_server.layer)
    meta = _collection(dae_server).json()["metadata"]
    assert meta["counts"] == {k: stored["counts"][k] for k in ("read", "published", "rejected")}
    assert meta["counts"]["read"] == meta["counts"]["published"] + meta["counts"]["rejected"]
    assert meta["source"]["file"] == stored["source"]["file"] and len(meta["source"]["sha256"]) == 64
    assert meta["source"]["format"] == "CSV"
    last = meta["rgpd"]["lastPublication"]
    report = stored["report"]["counts"]
    assert last["anonymisedRows"] == report["lignes_personne_physique_anonymisees"] > 0
    assert last["removedColumns"] == report["colonnes_rgpd_retirees"] > 0
    assert meta["rgpd"]["notes"] == stored["rgpd"]["notes"] and meta["rgpd"]["notes"]


def test_metadata_follow_a_republication(own_server):
    """Read at each request, like the ETag: a new publication shows without a restart."""
    before = _collection(own_server)
    frame = layer_frame(12, seed=5)
    own_server.store.publish(own_server.layer, frame, {"source": {"file": "dae-2.csv", "sha256": "ab" * 32}}, FIELDS)
    after = _collection(own_server)
    assert after.headers["ETag"] != before.headers["ETag"]
    meta = after.json()["metadata"]
    assert meta["source"] == {"file": "dae-2.csv", "sha256": "ab" * 32, "format": None}
    assert meta["counts"]["published"] == 12
    assert meta["lastUpdate"] == own_server.store.metadata(own_server.layer)["published_at"]


@pytest.mark.gpkg_only
@pytest.mark.parametrize(("lang", "title", "frequency", "note"), [
    ("fr", "Métadonnées", "mensuelle", "Retirés avant publication"),
    ("en", "Metadata", "monthly", "Removed before publication"),
])
def test_html_collection_page_has_the_metadata_block(server, lang, title, frequency, note):
    response = requests.get(f"{server.url}/collections/{server.layer}", params={"f": "html", "lang": lang}, timeout=10)
    assert response.status_code == 200
    html = response.content.decode("utf-8")  # pygeoapi sends text/html without a charset
    start = html.index('<section id="metadata">')
    block = html[start:html.index("</section>", start)]
    spec = CATALOGUE.layer(server.layer)
    assert f"<h3>{title}</h3>" in block
    assert f'href="{spec.licence.url}"' in block and "etalab-2.0" in block
    assert f">{frequency}</a>" in block and frequency_uri("monthly") in block
    assert note in block
    assert "<code>tel1</code>" in block
    assert f'href="{server.url}/catalogue.jsonld"' in block
