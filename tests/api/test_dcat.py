"""``/catalogue.jsonld`` (and ``/dcat``): a DCAT-AP catalogue that parses as JSON-LD (rdflib)
and names every published layer with its licence, its distributions and the properties
DCAT-AP makes mandatory — queried on the RDF graph, never by string matching (both stores)."""

from __future__ import annotations

import json

import pytest
import requests

import rdflib  # test dependency: reads JSON-LD natively (≥ 6)
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib import namespace as ns  # ns.DCAT…: module-level DefinedNamespaces make pytest warn
from rdflib.namespace import RDF

from layers.catalogue import get_catalogue
from layers.settings import CONFIG_DIR

CATALOGUE = get_catalogue(CONFIG_DIR / "catalogue.yaml")
EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
IANA = "https://www.iana.org/assignments/media-types/"
GSP_WKT = URIRef("http://www.opengis.net/ont/geosparql#wktLiteral")
LOCN = rdflib.Namespace("http://www.w3.org/ns/locn#")
PREFIXES = {"dcat": ns.DCAT, "dct": ns.DCTERMS, "foaf": ns.FOAF, "locn": LOCN}


def load_graph(url: str, path: str = "/catalogue.jsonld") -> tuple[requests.Response, Graph]:
    response = requests.get(url + path, timeout=20)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/ld+json")
    graph = Graph().parse(data=response.content, format="json-ld")
    return response, graph


def assert_dcat_ap_mandatory(graph: Graph) -> None:
    """DCAT-AP's mandatory properties: Catalog title, description, publisher, dataset;
    Dataset title, description; Distribution accessURL."""
    (catalog,) = list(graph.subjects(RDF.type, ns.DCAT.Catalog))
    for prop in (ns.DCTERMS.title, ns.DCTERMS.description, ns.DCTERMS.publisher, ns.DCAT.dataset):
        assert graph.value(catalog, prop) is not None, prop
    publisher = graph.value(catalog, ns.DCTERMS.publisher)
    assert (publisher, RDF.type, ns.FOAF.Organization) in graph and graph.value(publisher, ns.FOAF.name)
    datasets = set(graph.subjects(RDF.type, ns.DCAT.Dataset))
    assert datasets == set(graph.objects(catalog, ns.DCAT.dataset))
    for dataset in datasets:
        for prop in (ns.DCTERMS.title, ns.DCTERMS.description):
            assert {lit.language for lit in graph.objects(dataset, prop)} == {"fr", "en"}, (dataset, prop)
        distributions = list(graph.objects(dataset, ns.DCAT.distribution))
        assert distributions
        for distribution in distributions:
            assert (distribution, RDF.type, ns.DCAT.Distribution) in graph
            assert isinstance(graph.value(distribution, ns.DCAT.accessURL), URIRef), distribution


def licences_by_layer(graph: Graph) -> dict[str, str]:
    rows = graph.query(
        """SELECT ?notation ?licence WHERE {
             ?catalog a dcat:Catalog ; dcat:dataset ?d .
             ?d a dcat:Dataset ; adms:identifier/skos:notation ?notation ; dct:license ?licence .
           }""",
        initNs={**PREFIXES, "adms": rdflib.Namespace("http://www.w3.org/ns/adms#"),
                "skos": rdflib.Namespace("http://www.w3.org/2004/02/skos/core#")},
    )
    return {str(row.notation): str(row.licence) for row in rows}


def test_catalogue_parses_and_names_the_published_layer_with_its_licence(server):
    _, graph = load_graph(server.url)
    assert_dcat_ap_mandatory(graph)
    spec = CATALOGUE.layer(server.layer)
    assert licences_by_layer(graph) == {server.layer: spec.licence.url}  # only what is published


def test_dataset_properties(server):
    _, graph = load_graph(server.url)
    spec = CATALOGUE.layer(server.layer)
    stored = server.store.metadata(server.layer)
    dataset = URIRef(f"{server.url}/collections/{server.layer}")
    assert (dataset, RDF.type, ns.DCAT.Dataset) in graph
    assert graph.value(dataset, ns.DCTERMS.identifier) == Literal(str(dataset))  # udata's harvest key
    titles = {lit.language: str(lit) for lit in graph.objects(dataset, ns.DCTERMS.title)}
    assert titles == spec.title
    descriptions = {lit.language: str(lit) for lit in graph.objects(dataset, ns.DCTERMS.description)}
    assert descriptions["fr"].startswith(spec.description["fr"]) and spec.rgpd.note["fr"] in descriptions["fr"]
    keywords = {(str(k), k.language) for k in graph.objects(dataset, ns.DCAT.keyword)}
    assert ("défibrillateur", "fr") in keywords and ("defibrillator", "en") in keywords
    assert graph.value(dataset, ns.DCTERMS.accrualPeriodicity) == URIRef(
        "http://publications.europa.eu/resource/authority/frequency/MONTHLY")
    assert graph.value(dataset, ns.DCTERMS.conformsTo) == URIRef(spec.schema.url)
    assert graph.value(dataset, ns.DCAT.landingPage) == URIRef(f"{dataset}?f=html")
    modified = graph.value(dataset, ns.DCTERMS.modified)
    assert modified.toPython().isoformat() == stored["published_at"]
    assert graph.value(dataset, ns.DCTERMS.issued) is not None
    creator = graph.value(dataset, ns.DCTERMS.creator)
    assert str(graph.value(creator, ns.FOAF.name)) == spec.producer
    (catalog,) = list(graph.subjects(RDF.type, ns.DCAT.Catalog))
    assert graph.value(dataset, ns.DCTERMS.publisher) == graph.value(catalog, ns.DCTERMS.publisher)
    contact = graph.value(dataset, ns.DCAT.contactPoint)
    vcard = rdflib.Namespace("http://www.w3.org/2006/vcard/ns#")
    assert graph.value(contact, vcard.hasEmail) == URIRef(f"mailto:{CATALOGUE.publisher['email']}")
    # Spatial coverage: the published extent, as WKT and as GeoJSON (what udata reads).
    spatial = graph.value(dataset, ns.DCTERMS.spatial)
    wkt = graph.value(spatial, ns.DCAT.bbox)
    assert wkt.datatype == GSP_WKT and str(wkt).startswith("POLYGON((")
    geojson = json.loads(str(graph.value(spatial, LOCN.geometry)))
    west, south, east, north = stored["extent"]
    xs = [x for x, _ in geojson["coordinates"][0]]
    ys = [y for _, y in geojson["coordinates"][0]]
    assert (min(xs), min(ys), max(xs), max(ys)) == (west, south, east, north)


def test_distributions_api_and_downloads(server):
    _, graph = load_graph(server.url)
    spec = CATALOGUE.layer(server.layer)
    collection = f"{server.url}/collections/{server.layer}"
    dataset = URIRef(collection)
    by_access = {str(graph.value(d, ns.DCAT.accessURL)): d for d in graph.objects(dataset, ns.DCAT.distribution)}
    assert set(by_access) == {f"{collection}/items", *(f"{collection}/download.{f}" for f in ("geojson", "csv", "gpkg", "fgb"))}
    for distribution in by_access.values():
        assert graph.value(distribution, ns.DCTERMS.license) == URIRef(spec.licence.url)
    api = by_access[f"{collection}/items"]
    assert graph.value(api, ns.DCAT.downloadURL) is None
    service = graph.value(api, ns.DCAT.accessService)
    assert (service, RDF.type, ns.DCAT.DataService) in graph
    assert graph.value(service, ns.DCAT.endpointURL) == URIRef(f"{server.url}/")
    assert (service, ns.DCAT.servesDataset, dataset) in graph
    expected = {
        "geojson": ("application/geo+json", "GEOJSON"),
        "csv": ("text/csv", "CSV"),
        "gpkg": ("application/geopackage+sqlite3", "GPKG"),
    }
    for fmt, (media_type, eu) in expected.items():
        distribution = by_access[f"{collection}/download.{fmt}"]
        assert graph.value(distribution, ns.DCAT.downloadURL) == URIRef(f"{collection}/download.{fmt}")
        assert graph.value(distribution, ns.DCAT.mediaType) == URIRef(IANA + media_type)
        assert graph.value(distribution, ns.DCTERMS.format) == URIRef(EU_FILE_TYPE + eu)
    fgb = by_access[f"{collection}/download.fgb"]
    label = graph.value(graph.value(fgb, ns.DCTERMS.format), rdflib.RDFS.label)
    assert str(label) == "FlatGeobuf"  # not in the EU file-type list: a labelled format
    # Every advertised URL answers: the API, the landing page, each download with the
    # media type the catalogue announces.
    assert requests.get(f"{collection}/items", params={"f": "json", "limit": 1}, timeout=10).status_code == 200
    assert requests.get(str(graph.value(dataset, ns.DCAT.landingPage)), timeout=10).status_code == 200
    for url, distribution in by_access.items():
        if graph.value(distribution, ns.DCAT.downloadURL) is None:
            continue
        with requests.get(url, timeout=60, stream=True) as download:
            assert download.status_code == 200, (url, download.status_code)
            media_type = graph.value(distribution, ns.DCAT.mediaType)
            if media_type is not None:
                assert str(media_type) == IANA + download.headers["Content-Type"].split(";")[0]


def test_dcat_alias_and_http_behaviour(server):
    first, graph = load_graph(server.url)
    _, alias = load_graph(server.url, "/dcat")
    assert isomorphic(graph, alias)
    etag = first.headers["ETag"]
    again = requests.get(f"{server.url}/catalogue.jsonld", headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304 and again.content == b""
    zipped = requests.get(f"{server.url}/catalogue.jsonld", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert zipped.headers.get("Content-Encoding") == "gzip"
    assert isomorphic(Graph().parse(data=zipped.content, format="json-ld"), graph)


@pytest.mark.parametrize(("query", "parameter"), [("foo=1", "foo"), ("f=xml", "f"), ("f=jsonld&f=json", "f")])
def test_dcat_bad_parameters_answer_400_naming_them(server, query, parameter):
    response = requests.get(f"{server.url}/catalogue.jsonld?{query}", timeout=10)
    assert response.status_code == 400
    assert response.json()["parameter"] == parameter
