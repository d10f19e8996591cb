"""The researchers' notebooks (``notebooks/*.ipynb``), executed with nbclient against a real
``geocommune serve`` on the demo data, on both stores.

A failing cell fails the test with the cell's traceback. Each notebook ends with a cell that
prints its key figures as one JSON line; the tests recompute those figures here, from the API,
by other means (brute-force distances, a sampling grid, server-side reprojection…), so a wrong
analysis fails even when every cell runs. The kernel gets a dead HTTP proxy for everything but
the loopback: a notebook that fetched anything from the internet while executing would fail.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from collections import Counter
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pyproj
import pytest
import requests
import shapely
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.demo_server import serving_demo
from tests.postgis.cluster import acquire_shared, drop_schema, release_shared, schema_url, skip_requested

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("defibrillateurs-couverture.ipynb", "reseau-cyclable.ipynb", "accessibilite.ipynb")
CELL_TIMEOUT = 180
DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens on the discard port: any remote fetch fails
TO_L93 = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Appended to the executed copy (never to the file): which Python, which matplotlib backend,
# which server, and proof that the internet is out of reach from the kernel.
PROBE = """
import json, os, sys, matplotlib, requests
remote = []
for address in ("http://example.org/", "https://example.org/"):
    try:
        requests.get(address, timeout=10)
        remote.append("joignable")
    except requests.RequestException as exc:
        remote.append(type(exc).__name__)
print(json.dumps({"prefix": sys.prefix, "backend": matplotlib.get_backend(),
                  "url": os.environ.get("GEOCOMMUNE_URL"), "remote": remote}))
"""


# -- the server -----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def demo_url(request, tmp_path_factory) -> str:
    """``geocommune serve`` on a fresh data folder (it publishes the demo on first run)."""
    kind = request.param
    env = {}
    cluster_url = schema = None
    if kind == "postgis":
        if skip_requested():
            pytest.skip("GEOCOMMUNE_TEST_PG_SKIP=1 : variantes PostGIS sautées")
        cluster_url = acquire_shared().url
        schema = f"nb_{uuid.uuid4().hex[:12]}"
        env.update(GEOCOMMUNE_STORE=schema_url(cluster_url, schema), GEOCOMMUNE_PG_POOL="2")
    try:
        with serving_demo(tmp_path_factory.mktemp(f"notebooks-{kind}"), workers=2, env=env) as server:
            yield server.url
    finally:
        if schema is not None:
            drop_schema(cluster_url, schema)
            release_shared()


# -- running a notebook ---------------------------------------------------------------------------


def run_notebook(name: str, url: str, workdir: Path) -> nbformat.NotebookNode:
    """Execute ``name`` against ``url`` (a failing cell fails the test); returns the executed copy."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    env = {**os.environ, "GEOCOMMUNE_URL": url}
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        env[proxy] = DEAD_PROXY
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.pop("MPLBACKEND", None)  # the kernel chooses its own: ipykernel's inline backend
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute(env=env, cwd=str(workdir))
    except CellExecutionError as exc:
        pytest.fail(f"{name} : une cellule a échoué\n{ANSI.sub('', str(exc))}", pytrace=False)
    probe = _json_line(nb.cells[-1])
    assert Path(probe["prefix"]).resolve() == Path(sys.prefix).resolve(), "le noyau n'utilise pas le Python du venv"
    assert "inline" in probe["backend"], f"matplotlib ouvrirait une fenêtre : backend {probe['backend']}"
    assert probe["url"] == url and probe["remote"] == ["ProxyError", "ProxyError"], probe
    return nb


def _json_line(cell) -> dict:
    text = "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")
    lines = [line for line in text.splitlines() if line.startswith("{")]
    assert lines, f"pas de ligne JSON dans la sortie :\n{text}"
    return json.loads(lines[-1])


def key_figures(nb) -> dict:
    """The notebook's own last cell (before the probe): its JSON line of key figures."""
    return _json_line([c for c in nb.cells if c.cell_type == "code"][-2])


def outputs(nb, mime: str) -> list[str]:
    return [out["data"][mime] for cell in nb.cells if cell.cell_type == "code"
            for out in cell.outputs if mime in out.get("data", {})]


def check_charts_and_map(nb, charts: int) -> None:
    assert len(outputs(nb, "image/png")) >= charts
    maps = [html for html in outputs(nb, "text/html") if "leaflet" in html.lower()]
    assert len(maps) == 1, "une carte Folium attendue"


# -- independent data from the API ----------------------------------------------------------------


def api_features(url: str, collection: str, **params) -> list[dict]:
    """All the features in one request (the demo layers are below the server's 10 000 cap)."""
    page = requests.get(f"{url}/collections/{collection}/items", params={"f": "json", "limit": 10_000, **params},
                        timeout=60).json()
    assert page["numberReturned"] == page["numberMatched"] == len(page["features"])
    return page["features"]


def frame(features: list[dict]) -> pd.DataFrame:
    """Properties, plus Lambert-93 x/y for points."""
    table = pd.DataFrame([f["properties"] for f in features])
    if features and features[0]["geometry"]["type"] == "Point":
        lon, lat = np.array([f["geometry"]["coordinates"] for f in features]).T
        table["x"], table["y"] = TO_L93.transform(lon, lat)
    return table


# -- the notebooks --------------------------------------------------------------------------------


def test_notebooks_are_stored_clean_and_talk_only_http():
    """Stored without outputs (small repo, readable diffs), URL from GEOCOMMUNE_URL first, no internals."""
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.outputs == [] and c.execution_count is None for c in code), name
        assert 'os.environ.get("GEOCOMMUNE_URL", "http://127.0.0.1:5000")' in code[0].source, name
        source = "\n".join(c.source for c in code)
        assert not re.search(r"^\s*(from|import)\s+(layers|server)\b", source, re.M), name
        assert len([c for c in nb.cells if c.cell_type == "markdown"]) >= 5, f"{name} : explications en français"
    assert (NOTEBOOKS / "README.md").read_text(encoding="utf-8").count("make serve") >= 1


def test_defibrillateurs_coverage(demo_url, tmp_path):
    nb = run_notebook("defibrillateurs-couverture.ipynb", demo_url, tmp_path)
    figures = key_figures(nb)
    check_charts_and_map(nb, charts=3)
    dae_all = frame(api_features(demo_url, "defibrillateurs"))
    venues = frame(api_features(demo_url, "lieux-accessibles"))
    dae = dae_all[dae_all["etat_fonct"] == "En fonctionnement"]
    assert figures["n_dae"] == len(dae_all) and figures["n_lieux"] == len(venues)
    assert 0 < figures["n_dae_fonctionnement"] == len(dae) < len(dae_all)

    # Venues: brute-force distance matrix (venues × working DAE), in Lambert-93 metres.
    nearest = np.hypot(venues["x"].to_numpy()[:, None] - dae["x"].to_numpy()[None, :],
                       venues["y"].to_numpy()[:, None] - dae["y"].to_numpy()[None, :]).min(axis=1)
    for metres in (100, 300):
        share = figures[f"part_lieux_{metres}m"]
        assert 0 <= share <= 1
        assert share == pytest.approx((nearest <= metres).mean(), abs=1 / len(venues))
    assert figures["part_lieux_100m"] < figures["part_lieux_300m"]
    by_commune = pd.Series(nearest <= 300).groupby(venues["code_insee"].to_numpy()).mean()
    assert figures["part_lieux_300m_par_commune"] == pytest.approx(by_commune.to_dict(), abs=0.01)

    # Territory: the union of the communes' convex hulls (all DAE + venues), as the notebook says;
    # its covered share estimated on a 50 m grid of points, by nearest-DAE distance.
    points = pd.concat([dae_all.rename(columns={"com_insee": "code_insee"})[["code_insee", "x", "y"]],
                        venues[["code_insee", "x", "y"]]])
    hulls = [shapely.convex_hull(shapely.multipoints(group[["x", "y"]].to_numpy()))
             for _, group in points.groupby("code_insee")]
    territory = shapely.union_all(hulls)
    assert figures["surface_territoire_km2"] == pytest.approx(territory.area / 1e6, rel=1e-6)
    xmin, ymin, xmax, ymax = territory.bounds
    gx, gy = np.meshgrid(np.arange(xmin, xmax, 50.0), np.arange(ymin, ymax, 50.0))
    inside = shapely.contains_xy(territory, gx.ravel(), gy.ravel())
    grid = shapely.points(gx.ravel()[inside], gy.ravel()[inside])
    _, distance = shapely.STRtree(shapely.points(dae["x"], dae["y"])).query_nearest(grid, return_distance=True,
                                                                                    all_matches=False)
    for metres in (100, 300):
        share = figures[f"part_territoire_{metres}m"]
        assert 0 < share < 1
        assert share == pytest.approx((distance <= metres).mean(), abs=0.01)

    # Nights: covered when disp_h holds « 24h/24 » or « heures de nuit »; unknown when only
    # « non renseigné » or nothing; uncovered otherwise (working hours only).
    kinds = Counter(
        "covered" if {"24h/24", "heures de nuit"} & set(hours or [])
        else "unknown" if set(hours or []) <= {"non renseigné"}
        else "uncovered"
        for hours in dae["disp_h"]
    )
    assert figures["n_dae_nuit_couverte"] == kinds["covered"] > 0
    assert figures["n_dae_nuit_sans_couverture"] == kinds["uncovered"] > 0
    assert figures["n_dae_nuit_non_renseignee"] == kinds["unknown"]


def test_reseau_cyclable_lengths(demo_url, tmp_path):
    nb = run_notebook("reseau-cyclable.ipynb", demo_url, tmp_path)
    figures = key_figures(nb)
    check_charts_and_map(nb, charts=2)
    # Reprojected by the server this time (crs=EPSG:2154), measured with shapely.
    features = api_features(demo_url, "amenagements-cyclables", crs="http://www.opengis.net/def/crs/EPSG/0/2154")
    table = frame(features)
    table["km"] = shapely.length(shapely.from_geojson([json.dumps(f["geometry"]) for f in features])) / 1000
    assert figures["n_troncons"] == len(table)
    sides = pd.concat([
        table[[f"ame{s}", f"code_com{s}", "km"]].set_axis(["type", "commune", "km"], axis=1) for s in ("_d", "_g")
    ])
    sides = sides[sides["type"].notna() & (sides["type"] != "AUCUN")]
    assert figures["km_amenagements"] == pytest.approx(sides["km"].sum(), rel=1e-4)
    by_type = figures["km_par_type"]
    assert by_type and all(km > 0 for km in by_type.values())
    assert by_type == pytest.approx(sides.groupby("type")["km"].sum().to_dict(), rel=1e-4)
    assert figures["km_par_commune"] == pytest.approx(sides.groupby("commune")["km"].sum().to_dict(), rel=1e-4)
    assert sum(figures["km_par_commune"].values()) == pytest.approx(figures["km_amenagements"], rel=1e-9)
    equipped = (table["ame_d"].fillna("AUCUN") != "AUCUN") | (table["ame_g"].fillna("AUCUN") != "AUCUN")
    assert figures["km_voirie_amenagee"] == pytest.approx(table.loc[equipped, "km"].sum(), rel=1e-4)
    # Two-sided facilities are counted once per side: more facility km than equipped road km.
    assert figures["km_voirie_amenagee"] < figures["km_amenagements"] <= 2 * figures["km_voirie_amenagee"]


YES = {"entree_marches_rampe": {"fixe", "amovible"}, "accueil_personnels": {"formés"}}  # default: true


def test_accessibilite_by_criterion_and_commune(demo_url, tmp_path):
    nb = run_notebook("accessibilite.ipynb", demo_url, tmp_path)
    figures = key_figures(nb)
    check_charts_and_map(nb, charts=2)
    venues = frame(api_features(demo_url, "lieux-accessibles"))
    queryables = requests.get(f"{demo_url}/collections/lieux-accessibles/queryables?f=json", timeout=30).json()
    assert figures["n_lieux"] == len(venues)
    assert len(figures["criteres"]) >= 8
    answers = {}
    for field, counts in figures["criteres"].items():
        assert field in queryables["properties"], f"{field} n'est pas un champ publié"
        values = venues[field]
        yes = values.isin(YES.get(field, {True}))
        answers[field] = np.where(values.isna(), "non renseigné", np.where(yes, "oui", "non"))
        assert counts == {"oui": int(yes.sum()), "non": int((values.notna() & ~yes).sum()),
                          "non renseigné": int(values.isna().sum())}, field
        assert counts["oui"] + counts["non"] > 0, f"{field} : aucun lieu renseigné"
    assert figures["lieux_par_commune"] == venues["code_insee"].value_counts().to_dict()
    yes_by_commune = (pd.DataFrame(answers) == "oui").groupby(venues["code_insee"]).sum()
    assert figures["oui_par_commune"] == yes_by_commune.to_dict(orient="index")
    # The composite: step-free, or a ramp, or an accessible lift.
    entrance = pd.DataFrame(answers)[["entree_plain_pied", "entree_marches_rampe", "entree_ascenseur_pmr"]]
    door = (entrance == "oui").any(axis=1)
    unknown = ~door & (pd.Series(answers["entree_plain_pied"]) == "non renseigné")
    assert figures["entree_accessible"] == {"oui": int(door.sum()), "non": int((~door & ~unknown).sum()),
                                            "non renseigné": int(unknown.sum())}
