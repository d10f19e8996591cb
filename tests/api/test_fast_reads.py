"""The fast JSON reads (``server/http/fast_reads.py``) answer exactly as Flask + pygeoapi do.

Each request below is sent twice to the same in-process app, on both stores: once through
the WSGI middleware (the served path) and once straight to the Flask app behind it (the
reference). Status, headers (but ``Content-Length``: the fast path writes UTF-8 where
pygeoapi writes ``\\uXXXX`` escapes) and the parsed body (but ``timeStamp``) must be equal,
and the requests the fast path claims must really have been answered by it.
"""

from __future__ import annotations

import gzip
import itertools
import json

import pytest
from werkzeug.test import Client

from layers.settings import load_settings

from .conftest import FIELDS, LAYER, ServedStore, special_frame

# (query string, headers, answered by the fast path)
ACCEPTS = [
    None,
    "application/geo+json",
    "application/json",
    "*/*",
    "application/geo+json, application/json;q=0.9",
    "text/html;q=0.5, application/json",
]
LANGUAGES = [None, "en", "en-GB,en;q=0.9", "fr-CH, fr;q=0.9, en;q=0.8", "de", "*"]
ITEMS_QUERIES = [
    "",
    "limit=1",
    "limit=5",
    "limit=40",
    "limit=100",
    "limit=20000",
    "offset=3",
    "offset=39&limit=5",
    "limit=5&offset=39",
    "offset=40",
    "offset=1000",
    "f=json",
    "f=json&limit=7&offset=7",
    "limit=7&f=json&offset=14",
    "bbox=5,43,7,44.5",
    "bbox=5.5,43.2,6.3,44.1&limit=3",
    "limit=3&bbox=5.5%2C43.2%2C6.3%2C44.1&offset=2",
    "bbox=5.5,43.2,6.3,44.1&offset=1&limit=2",
    "bbox=-10,-10,-9,-9",
    "bbox=179,43,-179,44",  # west > east: across the antimeridian
    "bbox=-180,-90,180,90",
    "lang=en",
    "lang=fr&limit=2",
    "lang=de",
    "lang=",
]
DELEGATED_ITEMS_QUERIES = [
    "f=html",
    "f=jsonld",
    "f=csv",
    "f=JSON",
    "crs=http://www.opengis.net/def/crs/EPSG/0/2154",
    "bbox=5,43,0,7,44.5,10",
    "bbox=600000,6200000,700000,6300000&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/2154",
    "filter=rang>3",
    "sortby=-rang",
    "rang=3",
    "properties=nom",
    "skipGeometry=true",
    "resulttype=hits",
]
BAD_QUERIES = ["limit=0", "limit=abc", "offset=-1", "bbox=1,2,3", "bbox=7,44,5,43", "nope=1", "limit=2&limit=3",
               "offset=99999999999999999999999"]


@pytest.fixture(scope="module")
def app(store_kind, tmp_path_factory, request):
    from server.app import create_app

    served = ServedStore(store_kind, tmp_path_factory.mktemp(f"fast-{store_kind}") / "data", request)
    served.store.publish(LAYER, special_frame(), {"licence": "lo-2.0", "source": {"name": "dae.csv"}}, FIELDS)
    settings = load_settings(data_dir=served.data, store=served.env["GEOCOMMUNE_STORE"], usage=False,
                             url="http://example.test/api")
    try:
        yield create_app(settings)
    finally:
        served.close()


def _body(response) -> object:
    data = response.get_data()
    if response.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    if not data:
        return None
    if "json" not in response.headers.get("Content-Type", ""):
        return len(data)  # HTML, CSV: not the fast path's; their size is enough to compare
    document = json.loads(data)
    if isinstance(document, dict):
        document.pop("timeStamp", None)
    return document


def _compare(app, method: str, url: str, headers: dict[str, str]) -> bool:
    """Send the request through both paths; assert equal answers; True if the fast path answered."""
    fast = app.wsgi_app
    before = fast.answered
    served = Client(fast).open(url, method=method, headers=headers)
    answered = fast.answered > before
    reference = Client(fast.app).open(url, method=method, headers=headers)
    assert served.status_code == reference.status_code, url
    ignored = {"Content-Length"}
    assert ({k: v for k, v in served.headers.items() if k not in ignored}
            == {k: v for k, v in reference.headers.items() if k not in ignored}), (url, headers)
    if method == "GET":
        assert _body(served) == _body(reference), (url, headers)
    else:
        assert served.get_data() == reference.get_data() == b""
    return answered


def test_items_pages_are_pygeoapis(app) -> None:
    answered = 0
    cases = list(itertools.product(ITEMS_QUERIES, ACCEPTS[:3], LANGUAGES[:2])) + [
        (q, a, lang) for q in ITEMS_QUERIES[:4] for a in ACCEPTS for lang in LANGUAGES
    ]
    for query, accept, language in cases:
        headers = {k: v for k, v in (("Accept", accept), ("Accept-Language", language)) if v is not None}
        answered += _compare(app, "GET", f"/collections/{LAYER}/items?{query}", headers)
    # Every one of them is the fast path's (JSON, parameters it knows).
    assert answered == len(cases)


def test_single_features_are_pygeoapis(app) -> None:
    store_ids = [f"dae-{i:03d}" for i in (0, 1, 17, 39)]
    answered = 0
    for fid, accept, language, query in itertools.product(store_ids, ACCEPTS, LANGUAGES[:4], ["", "f=json", "lang=en"]):
        headers = {k: v for k, v in (("Accept", accept), ("Accept-Language", language)) if v is not None}
        answered += _compare(app, "GET", f"/collections/{LAYER}/items/{fid}?{query}", headers)
    assert answered == len(store_ids) * len(ACCEPTS) * 4 * 3


def test_gzip_head_and_special_text(app) -> None:
    for url in (f"/collections/{LAYER}/items?limit=40", f"/collections/{LAYER}/items/dae-004"):
        assert _compare(app, "GET", url, {"Accept-Encoding": "gzip, deflate"})
        assert _compare(app, "GET", url, {"Accept-Encoding": "gzip;q=0, identity"})
        assert _compare(app, "HEAD", url, {})
    # The special characters come back as characters (not &lt;, not lost) through the fast path.
    served = Client(app.wsgi_app).get(f"/collections/{LAYER}/items?limit=40")
    names = {f["properties"]["nom"] for f in served.get_json()["features"]}
    assert 'a < b > c & "d"' in names and "emoji 🫀 et œ" in names


def test_everything_else_is_flasks(app) -> None:
    """HTML, other formats, other parameters, unknown ids, conditional requests and bad
    input are answered by Flask (the fast path hands them over) — and still identically."""
    cases = [(f"/collections/{LAYER}/items?{q}", {}) for q in DELEGATED_ITEMS_QUERIES + BAD_QUERIES]
    cases += [
        (f"/collections/{LAYER}/items/nope", {}),
        (f"/collections/{LAYER}/items/dae-001?crs=http://www.opengis.net/def/crs/EPSG/0/2154", {}),
        (f"/collections/{LAYER}/items/dae-001?limit=3", {}),
        (f"/collections/{LAYER}/items/", {}),
        ("/collections/inconnue/items", {}),
        (f"/collections/{LAYER}/items", {"Accept": "text/html"}),
        (f"/collections/{LAYER}/items", {"Accept": "application/ld+json"}),
        (f"/collections/{LAYER}/items", {"If-None-Match": 'W/"x"'}),
        (f"/collections/{LAYER}", {}),
    ]
    for url, headers in cases:
        assert not _compare(app, "GET", url, headers), url
    for query in BAD_QUERIES:
        response = Client(app.wsgi_app).get(f"/collections/{LAYER}/items?{query}")
        assert response.status_code == 400 and response.get_json()["parameter"], query


def test_revalidation_after_a_fast_answer(app) -> None:
    """The fast path's ETag is the one Flask checks: a client revalidating gets its 304."""
    client = Client(app.wsgi_app)
    first = client.get(f"/collections/{LAYER}/items?limit=3")
    assert first.status_code == 200 and first.headers["ETag"].startswith('W/"')
    again = client.get(f"/collections/{LAYER}/items?limit=3", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
