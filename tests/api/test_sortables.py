"""``/collections/{id}/sortables`` lists exactly what ``sortby`` accepts (both stores)."""

from __future__ import annotations

import requests


def test_sortables_match_the_scalar_fields_and_sortby_accepts_them(server):
    url = f"{server.url}/collections/{server.layer}/sortables"
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/schema+json")
    body = response.json()
    props = body["properties"]
    # The fixture's layer: nom (string), code_insee (string), rang (integer), acces (boolean), jours (array).
    assert set(props) == {"id", "nom", "code_insee", "rang", "acces"}
    assert props["rang"] == {"type": "integer"} and props["acces"] == {"type": "boolean"}
    assert "jours" not in props  # a list cannot be sorted; sortby refuses it too
    for name in props:
        ok = requests.get(f"{server.url}/collections/{server.layer}/items?f=json&limit=1&sortby=-{name}", timeout=10)
        assert ok.status_code == 200, (name, ok.text)
    refused = requests.get(f"{server.url}/collections/{server.layer}/items?f=json&sortby=jours", timeout=10)
    assert refused.status_code == 400 and refused.json()["parameter"] == "sortby"


def test_sortables_errors(server):
    unknown = requests.get(f"{server.url}/collections/piscines/sortables", timeout=10)
    assert unknown.status_code == 404 and "piscines" in unknown.json()["description"]
    bad = requests.get(f"{server.url}/collections/{server.layer}/sortables?foo=1", timeout=10)
    assert bad.status_code == 400 and bad.json()["parameter"] == "foo"
