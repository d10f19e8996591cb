"""The map's data endpoints (``/nearest``, ``/aggregate``) over HTTP on both stores: the
nearest defibrillator and the per-tile counts must not depend on where the layer lives.
(tests/map checks them on the demo data and in a browser, on the GeoPackage store.)"""

from __future__ import annotations

import numpy as np
import pytest
import requests
import shapely
from pyproj import Geod

GEOD = Geod(ellps="WGS84")
TIMEOUT = 10


def _brute_nearest(frame, lon: float, lat: float, keep=None):
    if keep is not None:
        frame = frame[keep(frame)]
    x, y = shapely.get_x(frame.geometry.values), shapely.get_y(frame.geometry.values)
    _, _, distance = GEOD.inv(np.full(len(x), lon), np.full(len(x), lat), x, y)
    order = np.lexsort((frame["id"].to_numpy(), distance))
    return frame["id"].to_numpy()[order], distance[order]


@pytest.mark.parametrize("lon, lat", [(6.0, 43.7), (5.2, 44.4), (2.35, 48.85)])
def test_nearest_is_the_geodesic_nearest(server, lon, lat):
    response = requests.get(f"{server.url}/collections/{server.layer}/nearest",
                            params={"lon": lon, "lat": lat, "k": 4}, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/geo+json")
    body = response.json()
    ids, distances = _brute_nearest(server.frame, lon, lat)
    assert [f["id"] for f in body["features"]] == list(ids[:4])
    assert [f["distance"] for f in body["features"]] == pytest.approx(list(distances[:4]), abs=0.01)


def test_nearest_with_a_filter(server):
    response = requests.get(f"{server.url}/collections/{server.layer}/nearest",
                            params={"lon": 6.1, "lat": 43.9, "k": 3, "filter": "acces = TRUE"}, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    features = response.json()["features"]
    ids, _ = _brute_nearest(server.frame, 6.1, 43.9, keep=lambda f: f["acces"])
    assert [f["id"] for f in features] == list(ids[:3])
    assert all(f["properties"]["acces"] is True for f in features)


def test_nearest_bad_filter_names_the_parameter(server):
    response = requests.get(f"{server.url}/collections/{server.layer}/nearest",
                            params={"lon": 6, "lat": 44, "filter": "inconnu = 1"}, timeout=TIMEOUT)
    assert response.status_code == 400 and response.json()["parameter"] == "filter"


def test_aggregate_counts_add_up_to_items(server):
    bbox = "5.0,43.0,7.0,44.5"
    aggregate = requests.get(f"{server.url}/collections/{server.layer}/aggregate",
                             params={"bbox": bbox, "level": 8}, timeout=TIMEOUT)
    assert aggregate.status_code == 200, aggregate.text
    body = aggregate.json()
    items = requests.get(f"{server.url}/collections/{server.layer}/items",
                         params={"bbox": bbox, "limit": 1, "f": "json"}, timeout=TIMEOUT).json()
    assert body["numberMatched"] >= items["numberMatched"] == len(server.frame)
    assert sum(f["properties"]["count"] for f in body["features"]) == body["numberMatched"]
