"""Usage figures on a real server (2 granian workers), on both stores: the counters grow by
exactly the requests made, per layer, kind and format; errors are not counted; the stored
rows hold nothing about the client; ``/stats`` answers in HTML (French by default, one SVG
chart per layer) and JSON, and refuses bad parameters with a 400 naming them."""

from __future__ import annotations

import ipaddress
import re
import sqlite3
import time
from collections import Counter

import psycopg
import pytest
import requests

from layers.store.usage import COLUMNS
from tests.api.conftest import FIELDS, LAYER, ServedStore, _stop, layer_frame, start_server

FLUSH = 0.2  # GEOCOMMUNE_USAGE_FLUSH of these servers, seconds
WAIT = 30.0  # bound on the wait for the counts to reach the store
CLIENT_SECRETS = ("127.0.0.1", "203.0.113.9", "2001:db8::7", "Navigateur-de-Jeanne-Dupont", "python-requests")
IPV4 = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")
IPV6 = re.compile(r"\b[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}\b", re.IGNORECASE)
# Sent with every request: none of it may reach the counters.
HEADERS = {"User-Agent": "Navigateur-de-Jeanne-Dupont", "X-Forwarded-For": "203.0.113.9, 2001:db8::7"}


def _serve(store_kind, tmp_path_factory, request, **env: str):
    served = ServedStore(store_kind, tmp_path_factory.mktemp(f"usage-{store_kind}") / "data", request)
    served.store.publish(LAYER, layer_frame(), {"licence": "lo-2.0", "source": {"name": "dae.csv"}}, FIELDS)
    url, process, log = start_server(served.data, workers=2, extra_env={**served.env, **env})
    return served, url, process


@pytest.fixture(scope="module")
def usage_server(store_kind, tmp_path_factory, request):
    served, url, process = _serve(store_kind, tmp_path_factory, request, GEOCOMMUNE_USAGE_FLUSH=str(FLUSH))
    try:
        yield served, url
    finally:
        _stop(process)
        served.close()


def get(url: str, path: str, **kwargs) -> requests.Response:
    return requests.get(url + path, headers={**HEADERS, **kwargs.pop("headers", {})}, timeout=20, **kwargs)


def counted(url: str) -> dict[tuple[str, str], int]:
    """(kind, format) → count of the layer, from /stats?f=json (all days of the period)."""
    kinds = get(url, "/stats", params={"f": "json"}).json()["layers"][LAYER]["totals"]["kinds"]
    return {(kind, fmt): n for kind, formats in kinds.items() for fmt, n in formats.items()}


def wait_for(url: str, expected: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    deadline = time.monotonic() + WAIT
    seen = counted(url)
    while seen != expected and time.monotonic() < deadline:
        time.sleep(FLUSH / 2)
        seen = counted(url)
    return seen


def stored_rows(served) -> tuple[tuple[str, ...], list[tuple]]:
    """(column names, rows) of the raw usage table, read with the database's own client."""
    if served.kind == "gpkg":
        with sqlite3.connect(served.data / "usage.sqlite") as raw:
            tables = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            assert tables == ["usage"]
            cursor = raw.execute("SELECT * FROM usage")
            return tuple(c[0] for c in cursor.description), cursor.fetchall()
    url = served.env["GEOCOMMUNE_STORE"]
    with psycopg.connect(url.split("?", 1)[0]) as conn:
        cursor = conn.execute(f'SELECT * FROM "{served.schema}".geocommune_usage')
        return tuple(c.name for c in cursor.description), cursor.fetchall()


def _looks_like_an_address(text: str) -> bool:
    for candidate in [m.group(0) for m in IPV4.finditer(text)] + [m.group(0) for m in IPV6.finditer(text)]:
        try:
            ipaddress.ip_address(candidate)
            return True
        except ValueError:
            continue
    return False


def test_counts_grow_by_exactly_the_requests_made(usage_server):
    served, url = usage_server
    items = f"/collections/{LAYER}/items"
    expected: Counter[tuple[str, str]] = Counter()

    def use(path: str, kind: str, fmt: str, *, status: int = 200, **kwargs) -> requests.Response:
        response = get(url, path, **kwargs)
        assert response.status_code == status, (path, response.text[:300])
        expected[(kind, fmt)] += 1
        return response

    for _ in range(5):
        use(items, "items", "json", params={"f": "json", "limit": 3})
    for _ in range(3):
        use(items, "items", "html", params={"f": "html"})
    use(items, "items", "html", headers={"Accept": "text/html"})  # negotiated, no f
    use(f"{items}/dae-001", "item", "json", params={"f": "json"})
    use(f"{items}/dae-002", "item", "html", params={"f": "html"})
    use(f"/collections/{LAYER}/queryables", "queryables", "json")
    use(f"/collections/{LAYER}/queryables", "queryables", "json")
    use(f"/collections/{LAYER}", "collection", "json", params={"f": "json"})
    use(f"/collections/{LAYER}/schema", "schema", "json", params={"f": "json"})
    use(f"/collections/{LAYER}/sortables", "sortables", "json")
    use(f"/collections/{LAYER}/nearest", "nearest", "json", params={"lon": 6.0, "lat": 43.5, "k": 2})
    use(f"/collections/{LAYER}/aggregate", "aggregate", "json", params={"bbox": "5,43,7,44.5", "level": 6})
    first = get(url, items, params={"f": "json", "limit": 1})
    expected[("items", "json")] += 1
    # A revalidated read is a use (304), counted in the format asked for.
    use(items, "items", "json", status=304, params={"f": "json", "limit": 1},
        headers={"If-None-Match": first.headers["ETag"]})

    # Downloads (server/downloads/), per format; a revalidated download is a use too.
    for fmt in ("csv", "csv", "geojson", "gpkg", "fgb"):
        use(f"/collections/{LAYER}/download.{fmt}", "download", fmt)
    csv_etag = get(url, f"/collections/{LAYER}/download.csv").headers["ETag"]
    expected[("download", "csv")] += 1
    use(f"/collections/{LAYER}/download.csv", "download", "csv", status=304, headers={"If-None-Match": csv_etag})

    # Not counted: errors, other resources, HEAD, /stats itself.
    for path, params, status in [
        (f"{items}/inconnu", {"f": "json"}, 404),
        (f"/collections/{LAYER}/download.xlsx", {}, 404),
        (f"/collections/{LAYER}/download.csv", {"inconnu": "1"}, 400),
        (items, {"f": "json", "inconnu": "1"}, 400),
        (items, {"f": "xml"}, 400),
        ("/collections/inconnue/items", {}, 404),
        (f"/collections/{LAYER}/nearest", {"lon": 999, "lat": 43}, 400),
        ("/collections", {"f": "json"}, 200),
        ("/", {"f": "json"}, 200),
        ("/health", {}, 200),
        ("/stats", {"f": "json"}, 200),
    ]:
        assert get(url, path, params=params).status_code == status, path
    assert requests.head(url + items, params={"f": "json"}, timeout=10).status_code == 200

    assert wait_for(url, dict(expected)) == dict(expected)
    # Still exactly that after several more flush intervals, asked of both workers: nothing
    # written twice, nothing left behind.
    time.sleep(3 * FLUSH)
    for _ in range(6):
        assert counted(url) == dict(expected)

    columns, rows = stored_rows(served)
    assert columns == COLUMNS
    assert sum(row[-1] for row in rows) == sum(expected.values())
    assert {row[1] for row in rows} == {LAYER}
    for row in rows:
        for value in row:
            text = str(value)
            assert not any(secret in text for secret in CLIENT_SECRETS), row
            assert not _looks_like_an_address(text), row
            assert "?" not in text and "=" not in text and "/" not in text, row  # no URL, no query string


def test_stats_html_french_by_default_with_one_chart_per_layer(usage_server):
    _served, url = usage_server
    assert get(url, f"/collections/{LAYER}/items", params={"f": "json"}).status_code == 200  # a use to draw
    deadline = time.monotonic() + WAIT
    while not counted(url) and time.monotonic() < deadline:  # the other worker may have counted it
        time.sleep(FLUSH / 2)
    response = get(url, "/stats")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Content-Language"] == "fr"
    page = response.text
    assert '<html lang="fr"' in page and "Fréquentation des données" in page
    served_layers = [c["id"] for c in get(url, "/collections", params={"f": "json"}).json()["collections"]]
    charts = re.findall(r"<svg\b[^>]*>.*?</svg>", page, flags=re.S)
    assert len(charts) == len(served_layers) >= 1
    chart = charts[0]
    assert 'role="img"' in chart and "<title id=" in chart and "<desc id=" in chart
    assert "Requêtes API" in chart and re.search(r"<rect [^>]*fill=\"#0072B2\"><title>\d{4}-\d\d-\d\d · json : \d", chart)
    assert "<table" in page and "<th scope=\"row\">json</th>" in page  # the data as a table too
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)  # nothing loaded from elsewhere
    english = get(url, "/stats", params={"lang": "en"})
    assert english.headers["Content-Language"] == "en" and "Data usage" in english.text and "API requests" in english.text
    assert get(url, "/stats", headers={"Accept-Language": "en-GB,en;q=0.8"}).headers["Content-Language"] == "en"


def test_stats_json_shape_and_parameters(usage_server):
    _served, url = usage_server
    body = get(url, "/stats.json", params={"days": 7, "layer": LAYER}).json()
    assert set(body) == {"generated", "period", "layers"} and body["period"]["days"] == 7
    assert list(body["layers"]) == [LAYER]
    entry = body["layers"][LAYER]
    assert set(entry) == {"title", "days", "totals"} and entry["title"]["fr"].startswith("Défibrillateurs")
    for day in entry["days"]:
        assert set(day) == {"date", "api", "downloads", "kinds"}
        assert body["period"]["first"] <= day["date"] <= body["period"]["last"]
    assert get(url, "/stats", headers={"Accept": "application/json"}).headers["Content-Type"] == "application/json"
    for params, parameter in [
        ({"jours": "7"}, "jours"),
        ({"days": "0"}, "days"),
        ({"days": "367"}, "days"),
        ({"days": "sept"}, "days"),
        ({"layer": "piscines"}, "layer"),
        ({"lang": "de"}, "lang"),
        ({"f": "xml"}, "f"),
    ]:
        refused = get(url, "/stats", params=params)
        assert refused.status_code == 400, params
        assert refused.json()["parameter"] == parameter
    assert get(url, "/stats.json", params={"f": "html"}).json()["parameter"] == "f"


@pytest.fixture(scope="module")
def slow_flush_server(store_kind, tmp_path_factory, request):
    served, url, process = _serve(store_kind, tmp_path_factory, request, GEOCOMMUNE_USAGE_FLUSH="3600")
    try:
        yield served, url, process
    finally:
        _stop(process)
        served.close()


def test_workers_write_their_counts_when_they_stop(slow_flush_server):
    """An hour between flushes: the counts reach the store only when the workers exit
    (on SIGTERM: server/usage/buffer.py ``flush_at_process_exit``)."""
    served, url, process = slow_flush_server
    for _ in range(7):
        assert get(url, f"/collections/{LAYER}/items", params={"f": "json", "limit": 1}).status_code == 200
    _stop(process)
    assert process.returncode is not None
    _columns, rows = stored_rows(served)
    assert [(row[1], row[2], row[3], row[4]) for row in rows] == [(LAYER, "items", "json", 7)]
