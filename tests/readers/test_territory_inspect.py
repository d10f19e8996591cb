"""Territory boxes and file inspection (``geocommune inspect``)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import yaml
from shapely.geometry import Point

from layers.inspect import format_inspection_text, inspect_file
from layers.settings import CONFIG_DIR
from layers.territory import Territory


def test_default_territory_matches_the_catalogue():
    raw = yaml.safe_load((CONFIG_DIR / "catalogue.yaml").read_text(encoding="utf-8"))
    expected = tuple(tuple(float(v) for v in box) for box in raw["territory"]["bboxes"])
    territory = Territory.default()
    assert territory.bboxes == expected
    assert territory.name == raw["territory"]["name"]


def test_contains_is_vectorised():
    territory = Territory.default()
    lon = np.array([2.35, -61.07, 55.45, 45.23, -52.33, 8.73, -3.0, np.nan, 48.85])
    lat = np.array([48.85, 14.60, -20.88, -12.78, 4.93, 41.92, 30.0, 45.0, 2.35])
    inside = territory.contains(lon, lat)
    assert inside.dtype == bool
    assert inside.tolist() == [True, True, True, True, True, True, False, False, False]
    assert territory.fraction_inside(lon, lat) == 6 / 8


def test_custom_territory():
    territory = Territory([(4.9, 45.9, 5.5, 46.4)], name="Bresse")
    assert territory.contains(np.array([5.22]), np.array([46.2])).tolist() == [True]
    assert territory.contains(np.array([2.35]), np.array([48.85])).tolist() == [False]


def test_inspect_csv(write):
    text = "code_postal;nom;lat_coor1;long_coor1\n06000;Masséna;43.6975519;7.2700213\n06300;Port;43.6959;7.2857\n87000;;;\n"
    path = write("dae.csv", text, bom=True)
    info = inspect_file(path)
    assert info["format"] == "CSV" and info["encoding"] == "utf-8-sig" and info["separator"] == ";"
    assert info["crs"] == "EPSG:4326" and "degrés" in info["crs_source"]
    assert info["geometry_form"] == "colonnes lat/lon « lat_coor1 » / « long_coor1 »"
    assert info["geometry_types"] == ["Point"]
    assert info["count"] == 3 and info["count_null_geometry"] == 1
    assert info["columns"] == ["code_postal", "nom", "lat_coor1", "long_coor1"]
    assert np.allclose(info["bbox_wgs84"], [7.2700213, 43.6959, 7.2857, 43.6975519])
    assert info["layers"] == [] and info["layer"] is None
    json.dumps(info)  # JSON-ready
    text = format_inspection_text(info)
    for expected in ("Format : CSV", "Séparateur : point-virgule", "EPSG:4326", "Entités : 3 dont 1 sans géométrie",
                     "Colonnes (4) : code_postal, nom, lat_coor1, long_coor1", "Types de géométrie : Point (2)"):
        assert expected in text


def test_inspect_multilayer_geopackage(tmp_path):
    path = tmp_path / "deux.gpkg"
    gpd.GeoDataFrame({"n": [1, 2]}, geometry=[Point(652000, 6862000), None], crs="EPSG:2154").to_file(path, layer="arceaux")
    gpd.GeoDataFrame({"n": [1]}, geometry=[Point(2.35, 48.85)], crs="EPSG:4326").to_file(path, layer="abris")
    info = inspect_file(path)
    assert info["layers"] == ["arceaux", "abris"] and info["layer"] == "arceaux"
    assert info["crs"] == "EPSG:2154" and info["crs_source"] == "GeoPackage (srs_id 2154, EPSG:2154)"
    assert info["count"] == 2 and info["count_null_geometry"] == 1
    assert info["notes"][0]["rule"] == "several-layers"
    other = inspect_file(path, layer="abris")
    assert other["layer"] == "abris" and other["crs"] == "EPSG:4326"
    text = format_inspection_text(info)
    assert "Couche : arceaux (couches du fichier : arceaux, abris)" in text
    assert "GeoPackage (srs_id 2154" in text
