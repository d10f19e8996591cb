"""Whole-layer downloads (``/collections/{id}/download.{geojson,csv,gpkg,fgb}``) on a real
server of the module's own, on both stores: every format opens with GDAL (pyogrio, fiona)
and holds exactly what the API serves — count, ids, geometries, texts (the layer's ``nom``
holds ``SPECIAL_TEXTS``: quotes, tags, tab, newline, backslash, emoji) — with the licence;
parameters checked (400 naming the parameter), enclosure links, the HTML section, ETag /
304 / HEAD, streaming without gzip buffering, one file per publication built once even when
two workers ask at the same time; and the batch export itself, in process.

The module re-publishes its layer (same rows, new publication) in its last tests only.
"""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fiona
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import pytest
import requests
import shapely

from layers.catalogue import get_catalogue
from layers.settings import CONFIG_DIR
from layers.store.export import PublicationChanged, open_export
from server.downloads.arrow_json import concatenated, json_values
from tests.api.conftest import FIELDS, LAYER, SPECIAL_TEXTS, special_frame

TIMEOUT = 60
LINES = "amenagements-cyclables"  # a catalogue layer of lines
CATALOGUE = get_catalogue(CONFIG_DIR / "catalogue.yaml")
LICENCE_URL = CATALOGUE.layer(LAYER).licence.url
PRODUCER = CATALOGUE.layer(LAYER).producer
MEDIA_TYPES = {
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
    "gpkg": "application/geopackage+sqlite3",
    "fgb": "application/flatgeobuf",
}


def url(server, fmt: str, layer: str = LAYER) -> str:
    return f"{server.url}/collections/{layer}/download.{fmt}"


def fetch(server, fmt: str, params=None, layer: str = LAYER, **kwargs) -> requests.Response:
    response = requests.get(url(server, fmt, layer), params=params, timeout=TIMEOUT, **kwargs)
    assert response.status_code == 200, response.text[:500]
    return response


def api(server, layer: str = LAYER) -> dict:
    response = requests.get(f"{server.url}/collections/{layer}/items", params={"f": "json", "limit": 1000},
                            timeout=TIMEOUT)
    assert response.status_code == 200
    return response.json()


def saved(tmp_path: Path, response: requests.Response, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(response.content)
    return path


def api_geometries(collection: dict) -> np.ndarray:
    return np.array([shapely.geometry.shape(f["geometry"]) if f["geometry"] else None
                     for f in collection["features"]], dtype=object)


def read(path: Path, fmt: str) -> gpd.GeoDataFrame:
    if fmt == "csv":  # GDAL's CSV driver, told which columns hold the coordinates
        return pyogrio.read_dataframe(path, X_POSSIBLE_NAMES="longitude", Y_POSSIBLE_NAMES="latitude",
                                      KEEP_GEOM_COLUMNS="NO")
    return pyogrio.read_dataframe(path)


# -- every format holds what the API serves ------------------------------------------------------


@pytest.mark.parametrize("fmt", ["geojson", "csv", "gpkg", "fgb"])
def test_each_format_opens_with_the_api_count_ids_geometries_and_texts(own_server, tmp_path, fmt):
    collection = api(own_server)
    response = fetch(own_server, fmt)
    assert response.headers["Content-Type"] == MEDIA_TYPES[fmt]
    assert response.headers["Content-Disposition"] == f'attachment; filename="{LAYER}.{fmt}"'
    path = saved(tmp_path, response, f"{LAYER}.{fmt}")
    with fiona.open(path) as source:
        assert len(source) == collection["numberMatched"] == len(own_server.frame)
    frame = read(path, fmt)
    assert len(frame) == collection["numberMatched"]
    ids = [f["id"] for f in collection["features"]]
    if fmt == "fgb":  # FlatGeobuf keeps its features in the order of its spatial index
        assert sorted(frame["id"]) == sorted(ids)
        frame = frame.set_index("id", drop=False).loc[ids].reset_index(drop=True)
    assert frame["id"].tolist() == ids
    assert shapely.equals_exact(frame.geometry.values, api_geometries(collection), tolerance=0).all()
    assert frame["nom"].tolist() == [f["properties"]["nom"] for f in collection["features"]]
    assert set(frame["nom"]) == set(SPECIAL_TEXTS)
    if fmt != "geojson":  # lists as JSON text (GDAL reads the GeoJSON ones as its own list type)
        assert [json.loads(v) for v in frame["jours"]] == [f["properties"]["jours"] for f in collection["features"]]
    if fmt in ("gpkg", "fgb"):  # typed files keep the field types
        assert frame["rang"].tolist() == [f["properties"]["rang"] for f in collection["features"]]
        assert frame["acces"].tolist() == [f["properties"]["acces"] for f in collection["features"]]


def test_geojson_is_the_api_collection_with_licence_first(own_server):
    collection = api(own_server)
    response = fetch(own_server, "geojson")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["features"] == collection["features"]  # same form, same values, same order
    assert body["numberMatched"] == collection["numberMatched"]
    assert body["license"] == CATALOGUE.layer(LAYER).licence.spdx  # as on the collection's JSON
    assert [(link["rel"], link["href"]) for link in body["links"]] == [("license", LICENCE_URL)]
    assert body["attribution"] == PRODUCER
    # A streaming reader meets the licence before the first feature.
    assert response.content.index(b'"license"') < response.content.index(b'"features"')


def test_csv_columns_and_values(own_server):
    collection = api(own_server)
    response = fetch(own_server, "csv")
    assert not response.content.startswith(b"\xef\xbb\xbf")  # no BOM for programs
    frame = pd.read_csv(io.BytesIO(response.content), dtype={"code_insee": str}, keep_default_na=False)
    assert list(frame.columns) == ["id", *FIELDS, "longitude", "latitude"]
    features = collection["features"]
    assert frame["longitude"].tolist() == [f["geometry"]["coordinates"][0] for f in features]
    assert frame["latitude"].tolist() == [f["geometry"]["coordinates"][1] for f in features]
    assert frame["code_insee"].tolist() == [f["properties"]["code_insee"] for f in features]  # "06088" kept
    assert frame["rang"].tolist() == [f["properties"]["rang"] for f in features]
    assert frame["acces"].tolist() == [f["properties"]["acces"] for f in features]


def test_csv_for_french_spreadsheets(own_server):
    collection = api(own_server)
    response = fetch(own_server, "csv", {"sep": ";"})
    assert response.content.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with it
    text = response.content.decode("utf-8-sig")
    assert text.startswith('"id";"nom";')
    frame = pd.read_csv(io.StringIO(text), sep=";", decimal=",", dtype={"code_insee": str}, keep_default_na=False)
    features = collection["features"]
    assert frame["longitude"].tolist() == [f["geometry"]["coordinates"][0] for f in features]
    assert frame["nom"].tolist() == [f["properties"]["nom"] for f in features]
    assert any("," in line.split(";")[-1] for line in text.splitlines()[1:])  # decimal comma written


def test_csv_wkt_parses_to_the_api_geometries(own_server):
    collection = api(own_server)
    response = fetch(own_server, "csv", {"geometry": "wkt"})
    frame = pd.read_csv(io.BytesIO(response.content), keep_default_na=False)
    assert list(frame.columns)[-1] == "wkt" and "longitude" not in frame.columns
    assert shapely.equals_exact(shapely.from_wkt(frame["wkt"]), api_geometries(collection), tolerance=0).all()


@pytest.mark.parametrize("fmt", ["gpkg", "fgb"])
def test_files_carry_licence_and_attribution(own_server, tmp_path, fmt):
    path = saved(tmp_path, fetch(own_server, fmt), f"{LAYER}.{fmt}")
    metadata = pyogrio.read_info(path)["layer_metadata"]
    assert metadata["LICENSE_URL"] == LICENCE_URL
    assert metadata["ATTRIBUTION"] == PRODUCER
    assert LICENCE_URL in metadata["DESCRIPTION"]


@pytest.mark.parametrize("fmt", ["geojson", "csv", "gpkg", "fgb"])
def test_licence_link_etag_304_and_head(own_server, fmt):
    response = fetch(own_server, fmt)
    assert response.headers["Link"] == f'<{LICENCE_URL}>; rel="license"'
    etag = response.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")  # same publication, same bytes
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    assert response.headers["Last-Modified"]
    again = requests.get(url(own_server, fmt), headers={"If-None-Match": etag}, timeout=TIMEOUT)
    assert again.status_code == 304 and again.content == b""
    assert fetch(own_server, fmt).content == response.content  # deterministic bytes
    head = requests.head(url(own_server, fmt), timeout=TIMEOUT)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["ETag"] == etag and head.headers["Content-Type"] == MEDIA_TYPES[fmt]


@pytest.mark.parametrize("fmt", ["geojson", "csv"])
def test_streamed_not_buffered_by_gzip(own_server, fmt):
    response = requests.get(url(own_server, fmt), headers={"Accept-Encoding": "gzip"}, stream=True, timeout=TIMEOUT)
    try:
        assert response.status_code == 200
        assert response.headers.get("Transfer-Encoding") == "chunked"
        assert "Content-Length" not in response.headers and "Content-Encoding" not in response.headers
    finally:
        response.close()


def test_files_answer_range_requests(own_server):
    full = fetch(own_server, "fgb").content
    part = requests.get(url(own_server, "fgb"), headers={"Range": "bytes=0-7"}, timeout=TIMEOUT)
    assert part.status_code == 206 and part.content == full[:8]
    assert full[:3] == b"fgb"  # FlatGeobuf magic bytes


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "params", "parameter"),
    [
        ("csv", {"sep": "|"}, "sep"),
        ("csv", {"sep": "\t"}, "sep"),
        ("csv", {"geometry": "geojson"}, "geometry"),
        ("csv", [("sep", ";"), ("sep", ",")], "sep"),
        ("csv", {"limit": "10"}, "limit"),
        ("geojson", {"sep": ";"}, "sep"),
        ("gpkg", {"f": "json"}, "f"),
        ("fgb", {"bbox": "0,0,1,1"}, "bbox"),
    ],
)
def test_bad_parameters_are_400_naming_them(own_server, fmt, params, parameter):
    response = requests.get(url(own_server, fmt), params=params, timeout=TIMEOUT)
    assert response.status_code == 400
    body = response.json()
    assert body["parameter"] == parameter and body["code"] == "InvalidParameterValue"
    assert "Traceback" not in response.text


def test_unknown_collection_format_or_unpublished_layer_is_404(own_server):
    for path in ("/collections/piscines/download.csv", f"/collections/{LAYER}/download.shp",
                 "/collections/stationnement-velo/download.geojson"):  # a catalogue layer never published here
        response = requests.get(own_server.url + path, timeout=TIMEOUT)
        assert response.status_code == 404, path
        assert response.headers["Content-Type"].startswith("application/json") and response.json()["description"]


# -- a layer of lines, with a feature without geometry ------------------------------------------


@pytest.fixture(scope="module")
def lines_layer(own_server):
    """Published after the server started: downloads read the store, not the start-up configuration."""
    frame = gpd.GeoDataFrame(
        {"id": ["l1", "l2", "l3"], "nom": ["Piste « nord »", "Bande\tsud", "sans tracé"]},
        geometry=[shapely.LineString([(5.1, 43.1), (5.2, 43.15)]),
                  shapely.MultiLineString([[(5.3, 43.3), (5.31, 43.31)], [(5.4, 43.4), (5.5, 43.5)]]),
                  None],
        crs="EPSG:4326",
    )
    own_server.store.publish(LINES, frame, {"licence": "odbl"}, {"nom": "string"})
    return frame


def test_lines_default_to_wkt_and_refuse_latlon(own_server, lines_layer, tmp_path):
    response = fetch(own_server, "csv", layer=LINES)
    frame = pd.read_csv(io.BytesIO(response.content), keep_default_na=False)
    assert list(frame.columns) == ["id", "nom", "wkt"]
    assert frame["wkt"].iloc[2] == ""  # no geometry: empty cell
    assert shapely.from_wkt(frame["wkt"].iloc[1]).equals(lines_layer.geometry.iloc[1])
    refused = requests.get(url(own_server, "csv", LINES), params={"geometry": "latlon"}, timeout=TIMEOUT)
    assert refused.status_code == 400 and refused.json()["parameter"] == "geometry"
    assert fetch(own_server, "csv", layer=LINES).headers["Link"] == (
        f'<{CATALOGUE.layer(LINES).licence.url}>; rel="license"')  # the layer's own licence (ODbL)
    body = fetch(own_server, "geojson", layer=LINES).json()
    assert [f["geometry"] for f in body["features"]][2] is None
    for fmt in ("gpkg", "fgb"):  # FlatGeobuf: written without spatial index (GDAL's cannot hold a null)
        path = saved(tmp_path, fetch(own_server, fmt, layer=LINES), f"lines.{fmt}")
        read_back = pyogrio.read_dataframe(path)
        assert read_back["id"].tolist() == ["l1", "l2", "l3"] and read_back.geometry.iloc[2] is None
        assert read_back.geometry.iloc[1].equals(lines_layer.geometry.iloc[1])


# -- links and pages ---------------------------------------------------------------------------


def test_collection_has_one_enclosure_link_per_format_and_they_work(own_server):
    collection = requests.get(f"{own_server.url}/collections/{LAYER}", params={"f": "json"}, timeout=TIMEOUT).json()
    enclosures = [link for link in collection["links"] if link["rel"] == "enclosure"]
    assert sorted(link["type"] for link in enclosures) == sorted(t.split(";")[0] for t in MEDIA_TYPES.values())
    for link in enclosures:
        assert link["href"].startswith(own_server.url + "/") and link["title"].startswith("Télécharger")
        response = requests.get(link["href"], timeout=TIMEOUT)
        assert response.status_code == 200 and response.headers["Content-Type"].split(";")[0] == link["type"]


@pytest.mark.parametrize(("lang", "heading"), [("fr", "Télécharger"), ("en", "Download")])
def test_html_page_lists_the_downloads(own_server, lang, heading):
    response = requests.get(f"{own_server.url}/collections/{LAYER}", params={"f": "html", "lang": lang},
                            timeout=TIMEOUT)
    response.encoding = "utf-8"
    page = response.text
    assert f'<h3 id="downloads">{heading}</h3>' in page
    for fmt in MEDIA_TYPES:
        assert f'href="{url(own_server, fmt)}"' in page
    assert f'href="{url(own_server, "csv")}?sep=%3B"' in page
    assert ("virgule décimale" in page) == (lang == "fr")


# -- JSON text built column-wise (no server) -----------------------------------------------------


def test_column_wise_json_text_parses_back_to_the_values():
    texts = [*SPECIAL_TEXTS, "\x01 contrôle \x1f", "\u2028 séparateur", "\\\"", "", None]
    assert [json.loads(t) for t in json_values(pa.array(texts), "string").to_pylist()] == texts
    numbers = [1.5, 3.0, 1e-7, float("nan"), float("inf"), None, -0.0, 1e300]
    parsed = [json.loads(t) for t in json_values(pa.array(numbers), "number").to_pylist()]
    assert parsed == [1.5, 3.0, 1e-7, None, None, None, -0.0, 1e300]
    lists = ['["lundi","mardi"]', "[]", None]
    assert [json.loads(t) for t in json_values(pa.array(lists), "array").to_pylist()] == [["lundi", "mardi"], [], None]
    assert json_values(pa.array([True, None, False]), "boolean").to_pylist() == ["true", "null", "false"]
    assert concatenated(pa.array(["ab", "", "cé"]).slice(1)) == "cé".encode()


# -- the batch export, in process (both stores) -------------------------------------------------


def test_export_reads_every_feature_in_batches(own_server):
    with open_export(own_server.store, LAYER, batch_size=7) as export:
        sizes, ids = [], []
        for batch in export:
            sizes.append(batch.num_rows)
            ids += batch.properties.column("id").to_pylist()
            assert batch.properties.column_names == ["id", *FIELDS]
    assert sizes == [7] * (len(own_server.frame) // 7) + [len(own_server.frame) % 7]
    assert ids == [f["id"] for f in api(own_server)["features"]]


# -- new publications (last: they re-publish the module's layer) --------------------------------


def test_a_publication_during_an_export_never_mixes_versions(own_server):
    export = open_export(own_server.store, LAYER, batch_size=7)
    try:
        batches = iter(export)
        first = next(batches).properties.column("id").to_pylist()
        own_server.store.publish(LAYER, special_frame(), {"licence": "lo-2.0"}, FIELDS)
        if own_server.kind == "gpkg":
            # The open file is the old version, read to its end.
            rest = [i for batch in batches for i in batch.properties.column("id").to_pylist()]
            assert first + rest == own_server.frame["id"].tolist()
        else:
            with pytest.raises(PublicationChanged):
                next(batches)
    finally:
        export.close()


def test_new_publication_new_file_built_once_under_concurrency(own_server, tmp_path):
    before = fetch(own_server, "gpkg").headers["ETag"]
    own_server.store.publish(LAYER, special_frame(), {"licence": "lo-2.0"}, FIELDS)
    with ThreadPoolExecutor(max_workers=4) as pool:  # the server's two workers, both asked at once
        responses = list(pool.map(lambda _: requests.get(url(own_server, "gpkg"), timeout=TIMEOUT), range(4)))
    assert all(r.status_code == 200 for r in responses)
    etags = {r.headers["ETag"] for r in responses}
    assert len(etags) == 1 and before not in etags
    assert len({r.content for r in responses}) == 1  # one file, built once
    path = saved(tmp_path, responses[0], "new.gpkg")
    assert pyogrio.read_info(path)["features"] == len(own_server.frame)
    folder = own_server.data / ".runtime" / "downloads"
    assert sorted(p.name for p in folder.glob(f"{LAYER}.*.gpkg")) == [f"{LAYER}.{etags.pop().strip(chr(34))}.gpkg"]
    assert not list(folder.glob(".tmp-*"))
