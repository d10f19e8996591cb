"""Projections: declared (--crs, .prj, GeoPackage srs_id, GeoJSON ``crs``), recognised from
value ranges, and reprojection to WGS84 checked against PUBLISHED reference coordinates.

Reference points (published values, not pyproj output):

* IGN geodetic site sheets ("fiches signalétiques", geodesie.ign.fr), RGF93 geographic
  and Lambert-93 coordinates of the same points, as transcribed in
  github.com/yoyonel/bablib, qprog/libs/libOrientation/tags/ign_espace/extern/proj4/
  samples/sample_2/sample2.cpp:
    - Amiens, cathédrale: λ 2°18'04,3616" E, φ 49°53'41,4145" N; E 649750.13, N 6977570.07
    - Marseille, croix du dôme de l'église: λ 5°22'16,7784" E, φ 43°17'02,0040" N;
      E 892556.27, N 6245637.81
    - Montmirail: λ 5°03'36,2010" E, φ 44°10'44,7108" N; E 864691.44, N 6344379.28
    - Saint-Armel (golfe du Morbihan): λ 2°44'52,2471" W, φ 47°34'36,8062" N;
      E 268287.44, N 6735332.29
* Conseil départemental des Hauts-de-Seine, open data "bornes topographiques"
  (opendata.hauts-de-seine.fr, dataset bornes-topographiques; mirrored at
  huggingface.co/datasets/Data-Gouv-ML/bornes-topographiques): RBF bornes published with
  both CC49 (X_CC49/Y_CC49) and WGS84 (X_WGS84/Y_WGS84) columns:
    - RBF92_08 Rueil-Malmaison: 1638789.9045, 8187090.8597 ↔ 2.16537617962, 48.8808838255
    - RBF92_02 Le Plessis-Robinson: 1645117.9815, 8176262.1607 ↔ 2.25310874661, 48.7840992704

RGF93 and WGS84 agree to a few centimetres; tolerances: 1e-6° and 5 cm on the ellipsoid.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from shapely.geometry import LineString, Point

from layers.readers import read_source
from reader_helpers import assert_lonlat, rules


def dms(d: int, m: int, s: float, west: bool = False) -> float:
    value = d + m / 60 + s / 3600
    return -value if west else value


IGN_POINTS = [  # name, E, N (Lambert-93), lon, lat (RGF93 geographic)
    ("Amiens", 649750.13, 6977570.07, dms(2, 18, 4.3616), dms(49, 53, 41.4145)),
    ("Marseille", 892556.27, 6245637.81, dms(5, 22, 16.7784), dms(43, 17, 2.0040)),
    ("Montmirail", 864691.44, 6344379.28, dms(5, 3, 36.2010), dms(44, 10, 44.7108)),
    ("Saint-Armel", 268287.44, 6735332.29, dms(2, 44, 52.2471, west=True), dms(47, 34, 36.8062)),
]
HDS_BORNES = [  # id, X_CC49, Y_CC49, lon, lat
    ("RBF92_08", 1638789.9045, 8187090.8597, 2.16537617962, 48.8808838255),
    ("RBF92_02", 1645117.9815, 8176262.1607, 2.25310874661, 48.7840992704),
]
# Published by ArcGIS Online services (services.arcgis.com …/BDTopo_BSM/FeatureServer): an
# ESRI WKT for Lambert-93 without any EPSG code, as found in .prj files.
ESRI_L93_WKT = (
    'PROJCS["RGF93_Lambert_93",GEOGCS["GCS_RGF_1993",DATUM["D_RGF_1993",SPHEROID["GRS_1980",'
    '6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],'
    'PROJECTION["Lambert_Conformal_Conic"],PARAMETER["False_Easting",700000.0],'
    'PARAMETER["False_Northing",6600000.0],PARAMETER["Central_Meridian",3.0],'
    'PARAMETER["Standard_Parallel_1",44.0],PARAMETER["Standard_Parallel_2",49.0],'
    'PARAMETER["Latitude_Of_Origin",46.5],UNIT["Meter",1.0]]'
)
GEOD = pyproj.Geod(ellps="GRS80")


def assert_reference(table, points) -> None:
    for i, (_name, _e, _n, lon, lat) in enumerate(points):
        assert_lonlat(table, i, lon, lat, tol=1e-6)
        geom = table.geometry.iloc[i]
        _, _, metres = GEOD.inv(geom.x, geom.y, lon, lat)
        assert metres < 0.05, f"{_name}: {metres:.3f} m from the published position"


def l93_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"nom": [p[0] for p in IGN_POINTS]},
        geometry=[Point(p[1], p[2]) for p in IGN_POINTS],
        crs="EPSG:2154",
    )


# -- published reference points ---------------------------------------------------------

def test_lambert93_columns_detected_and_match_ign_sheets(write):
    lines = "\n".join(f"{n};{e:.2f};{y:.2f}" for n, e, y, _, _ in IGN_POINTS)
    table = read_source(write("l93.csv", "nom;X;Y\n" + lines + "\n"))
    assert table.source_crs == "EPSG:2154"
    assert table.crs_source.startswith("détecté par la plage des valeurs (EPSG:2154")
    assert table.geometry_form == "colonnes X/Y « X » / « Y »"
    assert_reference(table, IGN_POINTS)


def test_cc49_columns_detected_and_match_published_wgs84(write):
    lines = "\n".join(f"{i};{x};{y}" for i, x, y, _, _ in HDS_BORNES)
    table = read_source(write("cc49.csv", "ID;X_CC49;Y_CC49\n" + lines + "\n"))
    assert table.source_crs == "EPSG:3949"
    assert "détecté" in table.crs_source
    assert_reference(table, HDS_BORNES)


def test_shapefile_esri_prj_without_epsg_code(tmp_path):
    path = tmp_path / "ign.shp"
    l93_frame().to_file(path, engine="pyogrio")
    path.with_suffix(".prj").write_text(ESRI_L93_WKT)
    table = read_source(path)
    assert table.format == "ESRI Shapefile"
    assert table.source_crs == "EPSG:2154"
    assert table.crs_source == "fichier .prj (WKT ESRI « RGF93_Lambert_93 », identifié EPSG:2154)"
    assert table.frame["nom"].tolist() == [p[0] for p in IGN_POINTS]
    assert table.row_numbers.tolist() == [1, 2, 3, 4]
    assert_reference(table, IGN_POINTS)


def test_shapefile_prj_with_epsg_code(tmp_path):
    path = tmp_path / "ign.shp"
    l93_frame().to_file(path, engine="pyogrio")
    path.with_suffix(".prj").write_text(pyproj.CRS.from_epsg(2154).to_wkt("WKT1_GDAL"))
    table = read_source(path)
    assert table.crs_source == "fichier .prj (EPSG:2154)"
    assert_reference(table, IGN_POINTS)


def test_shapefile_without_prj_is_detected(tmp_path):
    path = tmp_path / "noprj.shp"
    l93_frame().to_file(path, engine="pyogrio")
    path.with_suffix(".prj").unlink()
    table = read_source(path)
    assert table.source_crs == "EPSG:2154" and "détecté" in table.crs_source
    assert_reference(table, IGN_POINTS)


@pytest.mark.parametrize("epsg", [2154, 3946, 4326])
def test_geopackage_srs_id(tmp_path, epsg):
    path = tmp_path / "points.gpkg"
    l93_frame().to_crs(epsg).to_file(path, layer="reperes", engine="pyogrio")
    table = read_source(path)
    assert table.format == "GPKG" and table.layer == "reperes"
    assert table.source_crs == f"EPSG:{epsg}"
    assert table.crs_source == f"GeoPackage (srs_id {epsg}, EPSG:{epsg})"
    assert_reference(table, IGN_POINTS)


def test_geojson_legacy_crs_member_lambert93(write):
    features = [
        {"type": "Feature", "properties": {"nom": n}, "geometry": {"type": "Point", "coordinates": [e, y]}}
        for n, e, y, _, _ in IGN_POINTS
    ]
    doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},
           "features": features}
    table = read_source(write("l93.geojson", json.dumps(doc)))
    assert table.source_crs == "EPSG:2154"
    assert table.crs_source == "membre « crs » du GeoJSON (urn:ogc:def:crs:EPSG::2154 → EPSG:2154)"
    assert_reference(table, IGN_POINTS)


def test_declared_crs_wins_over_prj(tmp_path):
    path = tmp_path / "wrongprj.shp"
    # Lambert-93 numbers with a .prj claiming WGS84: the user's --crs is trusted.
    gpd.GeoDataFrame({"nom": ["Amiens"]}, geometry=[Point(649750.13, 6977570.07)], crs="EPSG:4326").to_file(path)
    table = read_source(path, crs="EPSG:2154")
    assert table.source_crs == "EPSG:2154" and table.crs_source == "déclaré par --crs (EPSG:2154)"
    assert "crs-override" in rules(table)
    assert_reference(table, IGN_POINTS[:1])


# -- WGS84 GeoJSON -------------------------------------------------------------------------

LINE = {"type": "LineString", "coordinates": [[2.304044, 48.8496], [2.305224, 48.850409]]}


def test_geojson_without_crs_member_is_crs84(write):
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id_local": "013"}, "geometry": LINE}]}
    table = read_source(write("rfc7946.geojson", json.dumps(doc)))
    assert table.source_crs == "OGC:CRS84"
    assert table.crs_source == "GeoJSON sans membre « crs » : CRS84 (RFC 7946)"
    assert table.frame.loc[0, "id_local"] == "013"
    assert list(table.geometry.iloc[0].coords) == [(2.304044, 48.8496), (2.305224, 48.850409)]


def test_geojson_with_explicit_crs84_member(write):
    doc = {"type": "FeatureCollection",
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
           "features": [{"type": "Feature", "properties": {}, "geometry": LINE}]}
    table = read_source(write("crs84.geojson", json.dumps(doc)))
    assert table.source_crs == "OGC:CRS84"
    assert table.crs_source == "membre « crs » du GeoJSON (urn:ogc:def:crs:OGC:1.3:CRS84 → OGC:CRS84)"
    assert list(table.geometry.iloc[0].coords)[0] == (2.304044, 48.8496)


def test_geojson_without_crs_member_but_lambert93_values(write):
    features = [{"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [e, n]}}
                for _, e, n, _, _ in IGN_POINTS]
    table = read_source(write("mistake.geojson", json.dumps({"type": "FeatureCollection", "features": features})))
    assert table.source_crs == "EPSG:2154"
    assert "crs-undeclared" in rules(table)
    assert_reference(table, IGN_POINTS)


def test_geojson_with_swapped_axes(write):
    feature = {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [48.8496, 2.304044]}}
    table = read_source(write("swapped.geojson", json.dumps({"type": "FeatureCollection", "features": [feature]})))
    assert_lonlat(table, 0, 2.304044, 48.8496)
    assert [(p.rule, p.row) for p in table.notes] == [("coordinates-swapped", 1)]


# -- recognition of the French projections from value ranges ------------------------------

@pytest.mark.parametrize("zone", range(42, 51))
def test_conic_conformal_zones_detected(write, zone):
    epsg = 3900 + zone
    # Points inside the zone's latitude band, across metropolitan France.
    lons = np.array([-1.5, 2.35, 6.1]) if zone not in (42,) else np.array([2.9, 3.9, 8.7])
    lats = np.array([zone - 0.4, zone, zone + 0.4]) if zone < 50 else np.array([49.6, 50.3, 50.9])
    if zone == 42:
        lats = np.array([42.7, 43.3, 42.1])
    x, y = pyproj.Transformer.from_crs(4326, epsg, always_xy=True).transform(lons, lats)
    lines = "\n".join(f"{a:.3f};{b:.3f}" for a, b in zip(x, y))
    table = read_source(write(f"cc{zone}.csv", "coord_x;coord_y\n" + lines + "\n"))
    assert table.source_crs == f"EPSG:{epsg}"
    for i, (lon, lat) in enumerate(zip(lons, lats)):
        assert_lonlat(table, i, lon, lat)


@pytest.mark.parametrize(
    ("place", "lon", "lat", "epsg", "accepted"),
    [
        ("Fort-de-France", -61.0686, 14.6036, 5490, {"EPSG:5490"}),
        ("Pointe-à-Pitre", -61.5331, 16.2411, 32620, {"EPSG:5490", "EPSG:4559", "EPSG:32620"}),
        ("Cayenne", -52.3300, 4.9333, 2972, {"EPSG:2972"}),
        ("Saint-Laurent-du-Maroni", -54.0300, 5.4980, 2972, {"EPSG:2972"}),
        ("Saint-Denis (La Réunion)", 55.4481, -20.8789, 2975, {"EPSG:2975"}),
        ("Mamoudzou", 45.2278, -12.7806, 4471, {"EPSG:4471"}),
        ("Saint-Pierre", -56.1764, 46.7811, 4467, {"EPSG:4467"}),
    ],
)
def test_overseas_utm_detected(write, place, lon, lat, epsg, accepted):
    lons, lats = np.array([lon, lon + 0.01]), np.array([lat, lat + 0.01])
    x, y = pyproj.Transformer.from_crs(4326, epsg, always_xy=True).transform(lons, lats)
    lines = "\n".join(f"{a:.3f};{b:.3f}" for a, b in zip(x, y))
    table = read_source(write("utm.csv", "X;Y\n" + lines + "\n"))
    assert table.source_crs in accepted, place
    assert_lonlat(table, 0, lon, lat, tol=2e-6)  # RGAF09/WGS84 realisations differ by centimetres


def test_wgs84_degrees_recognised(write):
    table = read_source(write("deg.csv", "X;Y\n2.3012115556;49.894837361\n"))
    assert table.source_crs == "EPSG:4326"
    assert_lonlat(table, 0, 2.3012115556, 49.894837361)


def test_projected_x_y_columns_exchanged(write):
    lines = "\n".join(f"{y:.2f};{e:.2f}" for _, e, y, _, _ in IGN_POINTS)
    table = read_source(write("xy_swapped.csv", "X;Y\n" + lines + "\n"))
    assert table.source_crs == "EPSG:2154"
    assert "coordinates-swapped" in rules(table)
    assert_reference(table, IGN_POINTS)


def test_lines_in_lambert93_geopackage(tmp_path):
    path = tmp_path / "lignes.gpkg"
    line = LineString([(p[1], p[2]) for p in IGN_POINTS[:2]])
    gpd.GeoDataFrame({"id": ["a"]}, geometry=[line], crs="EPSG:2154").to_file(path)
    coords = list(read_source(path).geometry.iloc[0].coords)
    assert np.allclose(coords, [(p[3], p[4]) for p in IGN_POINTS[:2]], atol=1e-6)


def test_lambert93_wins_a_tie_and_the_alternative_is_named(write):
    # These values fit Lambert-93 (Corsica) and CC47 (southern Brittany coast) alike.
    table = read_source(write("tie.csv", "X;Y\n1160000;6120000\n1170000;6150000\n1190000;6250000\n"))
    assert table.source_crs == "EPSG:2154"
    assert "EPSG:3947 possible(s) aussi" in table.crs_source
    assert 8.5 < table.geometry.iloc[0].x < 8.6  # Corsica


def test_same_zone_realisations_are_not_reported_as_alternatives(write):
    table = read_source(write("mq.csv", "X;Y\n711000;1615000\n712000;1616000\n"))
    assert table.source_crs == "EPSG:5490"
    # RRAF 1991 and WGS 84 / UTM 20N put the points at the same place: not alternatives.
    assert "EPSG:4559" not in table.crs_source and "EPSG:32620" not in table.crs_source
