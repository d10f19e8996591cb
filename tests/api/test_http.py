"""The HTTP layer through a real server of the module's own (granian, 2 workers): JSON
text byte for byte, ETag / Last-Modified / 304, gzip, CORS, /health, /metrics summed
over the workers; and the 500 path, in process."""

from __future__ import annotations

import datetime as dt
import gzip
import re
from concurrent.futures import ThreadPoolExecutor
from email.utils import format_datetime, parsedate_to_datetime

import pytest
import requests
import urllib3

from tests.api.conftest import SPECIAL_TEXTS, special_frame

LAYER = "defibrillateurs"
ITEMS = f"/collections/{LAYER}/items"
TIMEOUT = 10


def get(server, path: str, params=None, headers=None) -> requests.Response:
    return requests.get(server.url + path, params=params, headers=headers, timeout=TIMEOUT)


def raw_get(server, path: str, headers: dict[str, str]) -> urllib3.BaseHTTPResponse:
    """Without requests' automatic decompression: the bytes as sent."""
    return urllib3.request("GET", server.url + path, headers=headers, decode_content=False, timeout=TIMEOUT)


# -- JSON text, byte for byte ----------------------------------------------------------------


def test_attribute_text_comes_back_byte_for_byte(own_server):
    response = get(own_server, ITEMS, {"f": "json", "limit": 1000, "sortby": "id"})
    assert response.status_code == 200
    assert b"&lt;" not in response.content and b"&gt;" not in response.content
    expected = dict(zip(own_server.frame["id"], own_server.frame["nom"]))
    features = response.json()["features"]
    assert len(features) == len(expected)
    for feature in features:
        assert feature["properties"]["nom"] == expected[feature["id"]]
    assert {f["properties"]["nom"] for f in features} == set(SPECIAL_TEXTS)


@pytest.mark.parametrize("fmt", ["json", "jsonld"])
def test_one_item_text_byte_for_byte(own_server, fmt):
    row = own_server.frame.iloc[0]
    assert row["nom"] == 'a < b > c & "d"'
    response = get(own_server, f"{ITEMS}/{row['id']}", {"f": fmt})
    assert response.status_code == 200
    body = response.json()
    text = body["properties"]["nom"] if fmt == "json" else body["nom"]
    assert text == 'a < b > c & "d"'


def test_html_pages_keep_their_escaping(own_server):
    response = get(own_server, f"{ITEMS}/{own_server.frame.iloc[1]['id']}", {"f": "html"})
    assert response.status_code == 200
    assert "<script>alert('x')</script>" not in response.text  # still escaped in HTML


# -- caching -------------------------------------------------------------------------------------


def test_etag_last_modified_and_304_both_ways(own_server):
    first = get(own_server, ITEMS, {"f": "json", "limit": 5})
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    assert first.headers["Cache-Control"] == "public, max-age=60"
    published = dt.datetime.fromisoformat(own_server.store.metadata(LAYER)["published_at"])
    assert parsedate_to_datetime(first.headers["Last-Modified"]) == published

    again = get(own_server, ITEMS, {"limit": 5, "f": "json"}, {"If-None-Match": etag})  # same query, other order
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == "public, max-age=60"
    assert again.headers["Access-Control-Allow-Origin"] == "*"

    since = get(own_server, ITEMS, {"f": "json", "limit": 5}, {"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    earlier = format_datetime(published - dt.timedelta(seconds=1), usegmt=True)
    assert get(own_server, ITEMS, {"f": "json", "limit": 5}, {"If-Modified-Since": earlier}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    stale = get(own_server, ITEMS, {"f": "json", "limit": 5},
                {"If-None-Match": 'W/"autre"', "If-Modified-Since": first.headers["Last-Modified"]})
    assert stale.status_code == 200


def test_etag_depends_on_query_language_and_format(own_server):
    def etag(params, headers=None):
        response = get(own_server, ITEMS, params, headers)
        assert response.status_code == 200
        return response.headers["ETag"]

    base = etag({"f": "json", "limit": 5})
    assert etag({"f": "json", "limit": 6}) != base
    assert etag({"f": "json", "limit": 5, "lang": "en"}) != base
    assert etag({"f": "json", "limit": 5}, {"Accept-Language": "en"}) != base
    assert etag({"f": "html", "limit": 5}) != base
    assert etag({"f": "json", "limit": 5}) == base


def test_global_resources_have_validators(own_server):
    for path in ("/", "/conformance", "/collections", f"/collections/{LAYER}", "/openapi",
                 f"{ITEMS}/dae-000", f"/collections/{LAYER}/queryables"):
        response = get(own_server, path, {"f": "json"})
        assert response.status_code == 200, path
        assert response.headers["ETag"] and response.headers["Last-Modified"], path
        assert get(own_server, path, {"f": "json"}, {"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_errors_are_not_cached(own_server):
    response = get(own_server, f"{ITEMS}/inconnu", {"f": "json"})
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store" and "ETag" not in response.headers


def test_new_etag_after_republication(own_server):
    paths = [ITEMS, f"{ITEMS}/dae-000", "/collections", "/"]
    before = {path: get(own_server, path, {"f": "json"}).headers["ETag"] for path in paths}
    own_server.store.publish(LAYER, special_frame(), {"licence": "lo-2.0", "source": {"name": "dae.csv"}}, own_server.fields)
    for path in paths:
        for _ in range(4):  # every worker sees the new file
            response = get(own_server, path, {"f": "json"}, {"If-None-Match": before[path]})
            assert response.status_code == 200, path
            assert response.headers["ETag"] != before[path], path
    published = dt.datetime.fromisoformat(own_server.store.metadata(LAYER)["published_at"])
    assert parsedate_to_datetime(get(own_server, ITEMS).headers["Last-Modified"]) == published


# -- gzip, Vary ----------------------------------------------------------------------------------


def test_gzip_when_accepted_and_worth_it(own_server):
    response = raw_get(own_server, f"{ITEMS}?f=json&limit=40", {"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    vary = {v.strip() for v in response.headers["Vary"].split(",")}
    assert {"Accept-Encoding", "Accept-Language"} <= vary
    document = gzip.decompress(response.data)
    assert int(response.headers["Content-Length"]) == len(response.data) < len(document)
    assert b'"FeatureCollection"' in document and b"&lt;" not in document

    plain = raw_get(own_server, f"{ITEMS}?f=json&limit=40", {"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.data.startswith(b"{")
    refused = raw_get(own_server, f"{ITEMS}?f=json&limit=40", {"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


def test_small_bodies_are_not_compressed(own_server):
    response = raw_get(own_server, f"{ITEMS}?foo=bar", {"Accept-Encoding": "gzip"})
    assert response.status == 400 and len(response.data) < 1024
    assert "Content-Encoding" not in response.headers


# -- CORS ------------------------------------------------------------------------------------------


def test_cors_on_get_and_preflight(own_server):
    origin = {"Origin": "https://carte.example.org"}
    response = get(own_server, ITEMS, {"f": "json"}, origin)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    preflight = requests.options(
        own_server.url + ITEMS,
        headers={**origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "if-none-match"},
        timeout=TIMEOUT,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert "If-None-Match" in preflight.headers["Access-Control-Allow-Headers"]
    writing = requests.options(
        own_server.url + ITEMS, headers={**origin, "Access-Control-Request-Method": "DELETE"}, timeout=TIMEOUT
    )
    assert "Access-Control-Allow-Methods" not in writing.headers  # read-only API
    head = requests.head(own_server.url + ITEMS, headers=origin, timeout=TIMEOUT)
    assert head.status_code == 200 and head.headers["Access-Control-Allow-Origin"] == "*"


# -- health and metrics --------------------------------------------------------------------------


def test_health(own_server):
    response = get(own_server, "/health")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    report = response.json()
    assert report["status"] == "ok" and report["store"]["reachable"] is True
    (layer,) = report["layers"]
    assert layer["id"] == LAYER and layer["readable"] is True
    assert layer["features"] == len(own_server.frame)
    assert layer["published_at"] == own_server.store.metadata(LAYER)["published_at"]


_SAMPLE = re.compile(r'^(?P<name>[a-z_]+)\{(?P<labels>[^}]*)\} (?P<value>\S+)$')


def scrape(server) -> dict[tuple[str, frozenset], float]:
    response = get(server, "/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for line in response.text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
            samples[(match["name"], labels)] = float(match["value"])
    return samples


def total(samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def test_metrics_add_up_exactly_over_two_workers(own_server):
    before = scrape(own_server)
    ok_paths = [f"{ITEMS}?f=json&limit={1 + i % 5}" for i in range(30)]
    missing = [f"{ITEMS}/absent-{i}?f=json" for i in range(6)]
    bad = [f"{ITEMS}?limit=0&n={i}" for i in range(4)]

    def call(path):
        return requests.get(own_server.url + path, timeout=TIMEOUT).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:  # concurrent: both workers take requests
        statuses = list(pool.map(call, ok_paths + missing + bad))
    assert statuses == [200] * 30 + [404] * 6 + [400] * 4
    after = scrape(own_server)

    def delta(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("geocommune_http_requests_total", collection=LAYER, endpoint="items", status="200") == 30
    assert delta("geocommune_http_requests_total", collection=LAYER, endpoint="item", status="404") == 6
    assert delta("geocommune_http_requests_total", collection=LAYER, endpoint="items", status="400") == 4
    assert delta("geocommune_http_errors_total", collection=LAYER) == 10
    assert delta("geocommune_http_request_duration_seconds_count", collection=LAYER) == 40
    assert delta("geocommune_http_request_duration_seconds_bucket", collection=LAYER, endpoint="items", le="+Inf") == 34
    # Two worker processes wrote their share (one file each).
    counters = list((own_server.data / ".runtime" / "metrics").glob("counter_*.db"))
    assert len(counters) >= 2, counters


def test_metrics_hold_no_personal_data(own_server):
    get(own_server, ITEMS, {"f": "json"}, {"User-Agent": "Navigateur-de-Jeanne-Dupont", "X-Forwarded-For": "203.0.113.9"})
    text = get(own_server, "/metrics").text
    for secret in ("127.0.0.1", "203.0.113.9", "Jeanne", "limit="):
        assert secret not in text
    assert 'collection="inconnue"' not in text  # an unknown name never becomes a label
    get(own_server, "/collections/inconnue/items")
    assert 'collection="inconnue"' not in get(own_server, "/metrics").text


# -- the 500 path (in process: nothing in the real API raises) ---------------------------------


def test_unexpected_exception_is_a_json_500_without_traceback(tmp_path, caplog):
    from layers.settings import Settings
    from layers.store import GeoPackageStore
    from server.app import create_app
    from tests.api.conftest import FIELDS, layer_frame

    settings = Settings(data_dir=tmp_path / "data", port=5999, url="")
    GeoPackageStore(settings.data_dir).publish(LAYER, layer_frame(5), {"licence": "lo-2.0"}, FIELDS)
    app = create_app(settings)

    def broken():
        raise RuntimeError("secret interne /etc/passwd")

    app.add_url_rule("/panne", "panne", broken)
    with caplog.at_level("ERROR", logger="geocommune.http"):
        response = app.test_client().get("/panne")
    assert response.status_code == 500
    assert response.get_json() == {"code": "ServerError", "description": "erreur interne"}
    assert b"secret" not in response.data and b"Traceback" not in response.data
    assert any("secret interne" in r.getMessage() and r.exc_info for r in caplog.records)  # the log has it all

    # A store fault caught by pygeoapi (its own "query error" body) reads the same way.
    path = settings.data_dir / f"{LAYER}.gpkg"
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"pas un GeoPackage" * 100)
    junk.replace(path)  # as a re-publication would, but with a broken file
    client = app.test_client()
    for url in (ITEMS, f"{ITEMS}/dae-001"):
        response = client.get(url, query_string={"f": "json"})
        assert response.status_code == 500
        assert response.get_json() == {"code": "ServerError", "description": "erreur interne"}
    health = client.get("/health")
    assert health.status_code == 503 and health.get_json()["status"] == "degraded"
