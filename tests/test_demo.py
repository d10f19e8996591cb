"""The demo generator: reproducible bytes, raw forms that real files have, plausible contents."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
import shapely

from layers.demo import COMMUNE_DAE_FILE, FILES, GEODAE_DROPPED, GPKG_LAYER, write_demo
from layers.settings import CONFIG_DIR

SCHEMAS = CONFIG_DIR / "schemas"
# The demo territory (communes around Bourg-en-Bresse) with a generous margin.
LON_RANGE, LAT_RANGE = (5.0, 5.5), (46.0, 46.4)
PG_ARRAY = re.compile(r'^\{("[^"]*"|[^",{}]+)(,("[^"]*"|[^",{}]+))*\}$')


def fields(rel: str) -> list[dict]:
    return json.loads((SCHEMAS / rel).read_text(encoding="utf-8"))["fields"]


def sha256_tree(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict[str, Path], float]:
    out = tmp_path_factory.mktemp("demo")
    start = time.perf_counter()
    paths = write_demo(out, seed=42)
    return out, paths, time.perf_counter() - start


def read_csv(path: Path, sep: str = ",") -> pd.DataFrame:
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8")


def test_returns_one_file_per_catalogue_layer(demo):
    out, paths, _ = demo
    from layers.catalogue import load_catalogue

    assert set(paths) == set(load_catalogue(CONFIG_DIR / "catalogue.yaml").ids)
    assert all(p.parent == out and p.is_file() and p.name == FILES[k] for k, p in paths.items())
    assert (out / COMMUNE_DAE_FILE).is_file()
    readme = (out / "README.txt").read_text(encoding="utf-8")
    assert "DÉMONSTRATION" in readme and "fictives" in readme.lower()


def test_same_seed_same_bytes_other_seed_other_bytes(demo, tmp_path):
    out, _, _ = demo
    write_demo(tmp_path / "again", seed=42)
    assert sha256_tree(tmp_path / "again") == sha256_tree(out)
    write_demo(tmp_path / "other", seed=7)
    other = sha256_tree(tmp_path / "other")
    first = sha256_tree(out)
    assert all(other[name] != first[name] for name in FILES.values())


def test_geodae_export_form(demo):
    _, paths, _ = demo
    path = paths["defibrillateurs"]
    raw = path.read_text(encoding="utf-8")
    df = read_csv(path, sep=";")
    expected = (
        ["c_gid"]
        + ["c_" + f["name"] for f in fields("dae/1.0.7/schema.json") if f["name"] not in GEODAE_DROPPED]
        + ["c_doublon"]
    )
    assert list(df.columns) == expected
    assert not any(re.search(r"tel|mail", c) for c in df.columns)
    assert 1_900 <= len(df) <= 2_100
    assert df["c_gid"].str.fullmatch(r"\d+").all() and df["c_gid"].is_unique
    for col in ("c_acc_lib", "c_acc_pcsec", "c_acc_acc", "c_dae_mobile", "c_lc_ped", "c_dispsurv", "c_doublon"):
        assert set(df[col]) <= {"t", "f"}, col
    assert df["c_disp_j"].str.match(PG_ARRAY).all() and df["c_disp_h"].str.match(PG_ARRAY).all()
    assert '"jours fériés"' in raw.replace('""', '"') and '{"heures ouvrables","heures de nuit"}' in set(df["c_disp_h"])
    assert df["c_com_cp"].str.fullmatch(r"01\d{3}").all() and df["c_com_insee"].str.fullmatch(r"01\d{3}").all()
    assert ";01000;01053;" in raw  # leading zeros are in the file, not only in a str-typed reading
    # duplicates: flagged, and copies of a device already in the file
    dup = df[df["c_doublon"] == "t"]
    assert 1 <= len(dup) <= 30
    originals = df[df["c_doublon"] == "f"]
    assert originals["c_num_serie"].is_unique and dup["c_num_serie"].isin(originals["c_num_serie"]).all()
    # real-world mess
    lat, lon = df["c_lat_coor1"], df["c_long_coor1"]
    assert lat.str.contains(",").sum() >= 3
    assert ((lat == "") & (lon == "")).sum() >= 2
    parsed = pd.DataFrame({"lat": pd.to_numeric(lat, errors="coerce"), "lon": pd.to_numeric(lon, errors="coerce")}).dropna()
    outside = ~parsed["lon"].between(-5.5, 9.9) | ~parsed["lat"].between(41.2, 51.3)
    assert outside.sum() == 1
    inside = parsed[~outside]
    assert inside["lon"].between(*LON_RANGE).all() and inside["lat"].between(*LAT_RANGE).all()
    # operators: companies, communes, natural persons
    operators = df["c_expt_rais"]
    assert operators.str.startswith("COMMUNE D").any() and operators.str.match(r"^(SAS|SARL|SA|SELARL) ").any()
    assert "Dr Jeanne Martin" in set(operators)
    assert operators.str.match(r"^(Dr|Mme|M\.) ").sum() >= 5
    etat = df["c_etat_fonct"].value_counts()
    assert etat.index[0] == "En fonctionnement" and etat["En fonctionnement"] > 0.8 * len(df)
    assert etat.get("Hors service", 0) > 0
    assert df["c_nom"].str.endswith("(démo)").all()
    assert df["c_expt_siren"].str.fullmatch(r"\d{9}").all()


def test_commune_dae_file_plain_schema_with_contacts(demo):
    out, _, _ = demo
    df = read_csv(out / COMMUNE_DAE_FILE)
    schema = fields("dae/1.0.7/schema.json")
    assert list(df.columns) == [f["name"] for f in schema]
    assert 40 <= len(df) <= 60
    for f in schema:
        if f["type"] == "boolean":
            assert set(df[f["name"]]) <= {"oui", "non"}, f["name"]
        pattern = f.get("constraints", {}).get("pattern")
        if pattern and f["name"] in ("tel1", "tel2", "expt_tel1", "com_cp", "com_insee"):
            values = df[f["name"]][df[f["name"]] != ""]
            assert values.str.match(pattern).all(), f["name"]
    assert df["tel1"].str.startswith("+336").all()
    assert df["expt_email"].str.endswith("exemple.fr").all()
    assert df["disp_j"].str.contains(r"\|").any() and not df["disp_j"].str.contains(r"[{}]").any()


def test_cycle_paths_gpkg(demo):
    _, paths, _ = demo
    path = paths["amenagements-cyclables"]
    info = pyogrio.read_info(path)
    assert pyogrio.list_layers(path)[:, 0].tolist() == [GPKG_LAYER]
    assert info["crs"] == "EPSG:2154" and info["geometry_type"] == "LineString"
    assert 200 <= info["features"] <= 500
    gdf = pyogrio.read_dataframe(path)
    schema = json.loads((SCHEMAS / "amenagements-cyclables/0.3.5/schema_amenagements_cyclables.json").read_text(encoding="utf-8"))
    props = schema["properties"]["features"]["items"]["properties"]["properties"]
    assert set(props["required"]) <= set(gdf.columns)
    assert set(gdf.columns) - {"geometry"} <= set(props["properties"])
    for col in ("ame_d", "ame_g", "regime_d", "sens_d", "statut_d", "access_ame"):
        assert set(gdf[col].dropna()) <= set(props["properties"][col]["enum"]), col
    assert {"PISTE CYCLABLE", "BANDE CYCLABLE", "VOIE VERTE"} <= set(gdf["ame_d"])
    assert "DOUBLE SENS CYCLABLE NON MATERIALISE" in set(gdf["ame_g"]) and "ZONE 30" in set(gdf["regime_d"])
    assert gdf["code_com_d"].str.fullmatch(r"01\d{3}").all() and gdf["id_local"].is_unique
    vertices = shapely.get_num_coordinates(gdf.geometry.values)
    assert vertices.min() >= 5 and vertices.max() <= 50
    assert 100 <= gdf.length.sum() / 1000 <= 800  # km
    assert gdf["comm"].notna().any()
    centre = gdf.geometry.centroid.to_crs("EPSG:4326")
    assert centre.x.between(*LON_RANGE).all() and centre.y.between(*LAT_RANGE).all()


def test_acceslibre_export(demo):
    _, paths, _ = demo
    path = paths["lieux-accessibles"]
    raw = path.read_text(encoding="utf-8")
    df = read_csv(path)
    schema = fields("acceslibre/0.0.20/base/schema.json")
    assert list(df.columns) == [f["name"] for f in schema]
    assert 1_300 <= len(df) <= 1_700
    assert df["id"].is_unique and df["name"].str.endswith("(démo)").all()
    assert '"01000"' in raw and df["postal_code"].str.fullmatch(r"01\d{3}").all()
    for f in schema:
        if f["type"] == "boolean":
            assert set(df[f["name"]]) <= {"True", "False", ""}, f["name"]
    labels = [json.loads(v) for v in df["labels_familles_handicap"] if v]
    assert labels and all(set(v) <= {"auditif", "mental", "moteur", "visuel"} for v in labels)
    assert '"[""' in raw  # JSON arrays inside quoted cells
    activities = next(f for f in schema if f["name"] == "activite")["arrayItem"]["enum"]
    assert df["activite"].isin(activities).all()
    siret = df["siret"][df["siret"] != ""]
    assert len(siret) > 0.5 * len(df) and siret.str.fullmatch(r"\d{14}").all()
    assert pd.to_numeric(df["longitude"]).between(*LON_RANGE).all()
    assert pd.to_numeric(df["latitude"]).between(*LAT_RANGE).all()


def test_bike_parking(demo):
    _, paths, _ = demo
    df = read_csv(paths["stationnement-velo"])
    schema = fields("stationnement-cyclable/1.1.1/schema.json")
    assert list(df.columns) == [f["name"] for f in schema]
    assert 250 <= len(df) <= 350
    points = [json.loads(v) for v in df["coordonneesxy"]]  # "[lon,lat]", some with a space or a newline
    assert all(LON_RANGE[0] < lon < LON_RANGE[1] and LAT_RANGE[0] < lat < LAT_RANGE[1] for lon, lat in points)
    assert df["coordonneesxy"].str.contains("\n").any()
    for f in schema:
        if f["type"] == "boolean":
            assert set(df[f["name"]]) <= {"0", "1", ""}, f["name"]
        if "enum" in f.get("constraints", {}):
            assert set(df[f["name"]]) - {""} <= set(f["constraints"]["enum"]), f["name"]
    assert df["code_com"].str.fullmatch(r"01\d{3}").all() and df["id_local"].is_unique
    assert (df["commentaires"] != "").any()
