"""Failures reach the caller as InputFileError / CRSError with a French message naming the file."""

from __future__ import annotations

import json
import zipfile

import geopandas as gpd
import pytest
from shapely.geometry import Point

from layers.errors import CRSError, GeocommuneError, InputFileError
from layers.inspect import inspect_file
from layers.readers import list_layers, read_source


def _raises(cls, call, path, *words):
    with pytest.raises(cls) as caught:
        call()
    error = caught.value
    assert type(error) is cls
    assert error.file == str(path)
    assert str(path) in str(error)
    for word in words:
        assert word in error.message, error.message
    return error


def test_missing_file(tmp_path):
    path = tmp_path / "absent.csv"
    _raises(InputFileError, lambda: read_source(path), path, "introuvable")
    _raises(InputFileError, lambda: list_layers(path), path, "introuvable")
    _raises(InputFileError, lambda: inspect_file(path), path, "introuvable")


@pytest.mark.parametrize("name", ["vide.csv", "vide.geojson", "vide.gpkg", "vide.shp", "vide.zip"])
def test_empty_file(write, name):
    path = write(name, b"")
    _raises(InputFileError, lambda: read_source(path), path, "vide")


def test_blank_lines_only(write):
    path = write("blanc.csv", "\r\n\r\n  \n")
    _raises(InputFileError, lambda: read_source(path), path, "vide")


def test_header_only_csv(write):
    path = write("entete.csv", "id;nom;lat;lon\r\n")
    _raises(InputFileError, lambda: read_source(path), path, "en-tête")


def test_unknown_extension(write):
    path = write("donnees.xlsx", b"PK\x03\x04 not really")
    _raises(InputFileError, lambda: read_source(path), path, "format de fichier inconnu", ".xlsx")


def test_directory_is_not_a_file(tmp_path):
    folder = tmp_path / "dossier.csv"
    folder.mkdir()
    _raises(InputFileError, lambda: read_source(folder), folder, "pas un fichier")


def test_corrupt_geopackage(write):
    path = write("casse.gpkg", b"SQLite format 3\x00" + b"\x00garbage" * 200)
    error = _raises(InputFileError, lambda: read_source(path), path, "illisible")
    assert "GPKG" in error.message
    _raises(InputFileError, lambda: list_layers(path), path, "illisible")


def test_corrupt_geojson(write):
    path = write("casse.geojson", '{"type": "FeatureCollection", "features": [ {"type": ')
    _raises(InputFileError, lambda: read_source(path), path, "illisible")


def test_geojson_without_features(write):
    path = write("rien.geojson", json.dumps({"type": "FeatureCollection", "features": []}))
    _raises(InputFileError, lambda: read_source(path), path, "aucune entité")


def test_bad_zip_and_zip_without_data(write, tmp_path):
    bad = write("casse.zip", b"PK\x03\x04 truncated")
    _raises(InputFileError, lambda: read_source(bad), bad, "illisible")
    empty = tmp_path / "notes.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("LISEZMOI.txt.md", "rien")
    _raises(InputFileError, lambda: read_source(empty), empty, "sans fichier lisible")


def test_unknown_layer(tmp_path):
    path = tmp_path / "couches.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(2.35, 48.85)], crs="EPSG:4326").to_file(path, layer="arceaux")
    _raises(InputFileError, lambda: read_source(path, layer="abris"), path, "« abris »", "arceaux")


@pytest.mark.parametrize("declared", ["EPSG:999999", "999999", "lambert 2 etendu", "EPSG:"])
def test_unknown_declared_crs(write, tmp_path, declared):
    csv_path = write("points.csv", "x;y\n649750.13;6977570.07\n")
    error = _raises(CRSError, lambda: read_source(csv_path, crs=declared), csv_path, "inconnu", declared)
    assert "--crs" in error.message
    gpkg = tmp_path / "points.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(2.35, 48.85)], crs="EPSG:4326").to_file(gpkg)
    _raises(CRSError, lambda: read_source(gpkg, crs=declared), gpkg, "inconnu")
    _raises(CRSError, lambda: inspect_file(gpkg, crs=declared), gpkg, "inconnu")


def test_unreadable_prj(tmp_path):
    path = tmp_path / "prj.shp"
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(2.35, 48.85)], crs="EPSG:4326").to_file(path)
    path.with_suffix(".prj").write_text("PROJCS[pas du WKT")
    _raises(CRSError, lambda: read_source(path), path, ".prj")


def test_errors_are_one_family(write):
    path = write("x.dbf", b"\x03")
    with pytest.raises(GeocommuneError):
        read_source(path)
