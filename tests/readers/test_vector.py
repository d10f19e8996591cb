"""GeoJSON, Shapefile (plain, zipped, in a sub-folder) and GeoPackage: geometries, layers,
DBF encodings and names, as real municipal files have them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from layers.readers import list_layers, read_source
from reader_helpers import assert_lonlat, rules

ACCENTS = "École Jean-Macé, rue de l'Hôtel-de-Ville, Saint-Étienne-de-Tinée, crèche, garçon"


# -- geometries ------------------------------------------------------------------------------

def _feature(props: dict, geometry: dict | None) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def test_null_geometries_mixed_types_multipolygons_invalid_rings(write):
    square = [[[2.0, 48.0], [2.1, 48.0], [2.1, 48.1], [2.0, 48.1], [2.0, 48.0]]]
    features = [
        _feature({"id": "01053"}, {"type": "Point", "coordinates": [5.2162421, 46.1645193]}),
        _feature({"id": "06000"}, None),
        _feature({"id": "l"}, {"type": "LineString", "coordinates": [[2.304044, 48.8496], [2.305224, 48.850409]]}),
        _feature({"id": "mp"}, {"type": "MultiPolygon", "coordinates": [square, [[[3.0, 47.0], [3.1, 47.0], [3.1, 47.1], [3.0, 47.0]]]]}),
        # bow-tie: a self-intersecting ring, kept as read
        _feature({"id": "bow"}, {"type": "Polygon", "coordinates": [[[2.0, 48.0], [2.1, 48.1], [2.1, 48.0], [2.0, 48.1], [2.0, 48.0]]]}),
        # unclosed ring: closed on reading instead of failing the whole file
        _feature({"id": "open"}, {"type": "Polygon", "coordinates": [[[2.0, 48.0], [2.1, 48.0], [2.1, 48.1]]]}),
    ]
    table = read_source(write("mix.geojson", json.dumps({"type": "FeatureCollection", "features": features})))
    assert table.format == "GeoJSON"
    assert table.count == 6 and table.count_null_geometry == 1
    assert table.frame["id"].tolist() == ["01053", "06000", "l", "mp", "bow", "open"]
    assert table.row_numbers.tolist() == [1, 2, 3, 4, 5, 6]
    types = [None if g is None else g.geom_type for g in table.geometry]
    assert types == ["Point", None, "LineString", "MultiPolygon", "Polygon", "Polygon"]
    assert len(table.geometry.iloc[3].geoms) == 2
    assert not table.geometry.iloc[4].is_valid  # repair happens later, in validation
    assert table.geometry.iloc[5].exterior.is_closed
    assert "geometry-invalid-read" in rules(table)
    assert_lonlat(table, 0, 5.2162421, 46.1645193)


def test_geojson_properties_keep_strings(write):
    feature = _feature({"code_com_d": "01053", "insee": "2A004", "largeur_d": 3, "acces_ame": "OUI", "Name": "x"},
                       {"type": "Point", "coordinates": [8.73, 41.92]})
    table = read_source(write("codes.geojson", json.dumps({"type": "FeatureCollection", "features": [feature]})))
    assert table.frame.loc[0, "code_com_d"] == "01053"
    assert table.frame.loc[0, "insee"] == "2A004"
    assert table.frame.loc[0, "largeur_d"] == 3
    # Misspelt or differently cased names stay as written: mapping to the schema comes later.
    assert list(table.frame.columns) == ["code_com_d", "insee", "largeur_d", "acces_ame", "Name"]


# -- shapefiles ---------------------------------------------------------------------------

def _shapefile(path: Path, crs: str = "EPSG:2154", **columns) -> Path:
    columns = columns or {"nom": ["Mairie"], "code_insee": ["06088"]}
    n = len(next(iter(columns.values())))
    points = [Point(1044000.0 + i, 6298000.0 + i) for i in range(n)]
    frame = gpd.GeoDataFrame(columns, geometry=points, crs="EPSG:2154").to_crs(crs)
    frame.to_file(path, engine="pyogrio", encoding="UTF-8")
    return path


@pytest.mark.filterwarnings("ignore:.*(truncated|laundered)")
def test_dbf_names_cut_to_ten_characters_stay_as_they_are(tmp_path):
    path = _shapefile(tmp_path / "dae.shp", acces_libre=["oui"], date_installation=["2020-01-01"], expt_siret=["01234567800012"])
    table = read_source(path)
    assert list(table.frame.columns) == ["acces_libr", "date_insta", "expt_siret"]
    assert table.frame.loc[0, "expt_siret"] == "01234567800012"


def _latin1_dbf(tmp_path: Path, name: str, text: str, encoding: str, ldid: int | None) -> Path:
    path = tmp_path / f"{name}.shp"
    gpd.GeoDataFrame({"nom": [text]}, geometry=[Point(652000, 6862000)], crs="EPSG:2154").to_file(
        path, engine="pyogrio", encoding=encoding
    )
    if ldid is not None:
        path.with_suffix(".cpg").unlink()
        with open(path.with_suffix(".dbf"), "r+b") as dbf:
            dbf.seek(29)  # language driver id byte of the DBF header
            dbf.write(bytes([ldid]))
    return path


def test_latin1_dbf_declared_by_cpg(tmp_path):
    path = _latin1_dbf(tmp_path, "cpg", ACCENTS, "ISO-8859-1", None)
    assert path.with_suffix(".cpg").read_text() == "ISO-8859-1"
    table = read_source(path)
    assert table.encoding == "ISO-8859-1 (fichier .cpg)"
    assert table.frame.loc[0, "nom"] == ACCENTS


def test_latin1_dbf_declared_only_by_language_byte(tmp_path):
    # GDAL maps LDID 0x57 to ISO-8859-1 and decodes the text itself (checked: no .cpg left).
    path = _latin1_dbf(tmp_path, "ldid", ACCENTS, "ISO-8859-1", 0x57)
    assert not path.with_suffix(".cpg").exists()
    table = read_source(path)
    assert table.encoding == "ISO-8859-1 (octet de langue DBF 0x57, sans .cpg)"
    assert table.frame.loc[0, "nom"] == ACCENTS


def test_windows1252_dbf_declared_only_by_language_byte(tmp_path):
    # Œ and € exist in Windows-1252 but not in Latin-1: only the LDID 0x03 can get them right.
    path = _latin1_dbf(tmp_path, "ldid3", "Œuvre sociale – 5 €", "CP1252", 0x03)
    table = read_source(path)
    assert table.encoding == "CP1252 (octet de langue DBF 0x03, sans .cpg)"
    assert table.frame.loc[0, "nom"] == "Œuvre sociale – 5 €"


def test_utf8_dbf_without_any_declaration(tmp_path):
    path = _latin1_dbf(tmp_path, "utf8", ACCENTS, "UTF-8", 0x00)
    table = read_source(path)
    assert table.encoding.startswith("UTF-8 (détecté")
    assert table.frame.loc[0, "nom"] == ACCENTS


def _zip(tmp_path: Path, shp: Path, prefix: str) -> Path:
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in shp.parent.glob(shp.stem + ".*"):
            zf.write(part, f"{prefix}{part.name}")
        zf.writestr("__MACOSX/._ign.shp", b"junk")
    return archive


@pytest.mark.parametrize("prefix", ["", "export/sous-dossier/"])
def test_zipped_shapefile(tmp_path, prefix):
    src = tmp_path / "src"
    src.mkdir()
    shp = _latin1_dbf(src, "ign", ACCENTS, "ISO-8859-1", 0x57)
    archive = _zip(tmp_path, shp, prefix)
    table = read_source(archive)
    assert table.format == "ESRI Shapefile"
    assert table.path == archive
    assert table.source_crs == "EPSG:2154" and table.crs_source.startswith("fichier .prj")
    assert table.encoding.startswith("ISO-8859-1 (octet de langue")
    assert table.frame.loc[0, "nom"] == ACCENTS
    assert table.layers == ["ign"]
    assert list_layers(archive) == ["ign"]


def test_zip_with_several_shapefiles(tmp_path):
    a = _shapefile(tmp_path / "arceaux.shp")
    b = _shapefile(tmp_path / "abris.shp", nom=["Abri"], code_insee=["06088"])
    archive = tmp_path / "deux.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in list(tmp_path.glob("arceaux.*")) + list(tmp_path.glob("abris.*")):
            zf.write(part, f"data/{part.name}")
    assert list_layers(archive) == ["abris", "arceaux"]
    first = read_source(archive)
    assert first.layer == "abris" and "several-layers" in rules(first)
    chosen = read_source(archive, layer="arceaux")
    assert chosen.frame.loc[0, "nom"] == "Mairie"
    assert a.exists() and b.exists()


# -- GeoPackage ---------------------------------------------------------------------------

def test_geopackage_layers(tmp_path):
    path = tmp_path / "multi.gpkg"
    gpd.GeoDataFrame({"nom": ["a"]}, geometry=[Point(2.35, 48.85)], crs="EPSG:4326").to_file(path, layer="zones")
    gpd.GeoDataFrame({"nom": ["b"]}, geometry=[Point(1700000.0, 5200000.0)], crs="EPSG:3946").to_file(path, layer="arceaux")
    assert list_layers(path) == ["zones", "arceaux"]
    first = read_source(path)
    assert first.layer == "zones" and first.layers == ["zones", "arceaux"]
    assert "several-layers" in rules(first)
    second = read_source(path, layer="arceaux")
    assert second.layer == "arceaux" and second.source_crs == "EPSG:3946"
    assert_lonlat(second, 0, 3.0, 46.0, tol=1e-6)  # the CC46 origin: 3°E, 46°N


def test_geopackage_attribute_table_with_coordinate_columns(tmp_path):
    path = tmp_path / "table.gpkg"
    frame = pd.DataFrame({"nom": ["Mairie"], "latitude": [43.6975519], "longitude": [7.2700213]})
    pyogrio.write_dataframe(frame, path, layer="sans_geom", driver="GPKG")
    table = read_source(path)
    assert table.coordinate_columns == ["longitude", "latitude"]
    assert_lonlat(table, 0, 7.2700213, 43.6975519)


def test_geojson_with_null_geometries_and_coordinate_properties(write):
    features = [_feature({"nom": "Mairie", "latitude": "43.6975519", "longitude": "7.2700213"}, None)]
    table = read_source(write("nulls.geojson", json.dumps({"type": "FeatureCollection", "features": features})))
    assert table.coordinate_columns == ["longitude", "latitude"]
    assert_lonlat(table, 0, 7.2700213, 43.6975519)
