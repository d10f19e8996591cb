"""Coordinate forms found in tables: columns under many names, single cells, GeoJSON, (E)WKT."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely

from layers.errors import CRSError
from layers.readers import read_source
from reader_helpers import assert_lonlat, rules

# Grenoble, example of the national bicycle-parking schema (coordonneesxy "[5.7145295,45.191463]")
LON, LAT = 5.7145295, 45.191463


@pytest.mark.parametrize(
    ("lat_name", "lon_name"),
    [
        ("lat", "lon"), ("latitude", "longitude"), ("Latitude", "Longitude"), ("lat_coor1", "long_coor1"),
        ("c_lat_coor1", "c_long_coor1"), ("y", "x"), ("Y", "X"), ("coord_y", "coord_x"), ("ylat", "xlong"),
        ("lat", "lng"), ("LAT_WGS84", "LON_WGS84"), ("EQUIP_LAT", "EQUIP_LONG"), ("Y_WGS84", "X_WGS84"),
    ],
)
def test_two_columns_under_many_names(write, lat_name, lon_name):
    text = f"nom;{lon_name};{lat_name}\nArceau;{LON};{LAT}\n"
    table = read_source(write("pair.csv", text))
    assert table.coordinate_columns == [lon_name, lat_name]
    assert table.source_crs == "EPSG:4326"
    assert "degrés" in table.crs_source
    assert lat_name in table.geometry_form and lon_name in table.geometry_form
    assert_lonlat(table, 0, LON, LAT)


def test_catalogue_hint_wins(write):
    # Two plausible pairs; the catalogue names the one to use.
    text = "lat;lon;latitude_bis;longitude_bis\n0;0;45.191463;5.7145295\n"
    table = read_source(write("hint.csv", text), coordinates={"lat": "latitude_bis", "lon": "longitude_bis"})
    assert table.coordinate_columns == ["longitude_bis", "latitude_bis"]
    assert_lonlat(table, 0, LON, LAT)


def test_opendatasoft_geo_point_lat_lon(write):
    # Opendatasoft exports: "Geo Point" = "lat, lon" and "Geo Shape" = GeoJSON (from the
    # Hauts-de-Seine "bornes topographiques" export, borne RBF92_08 at Rueil-Malmaison).
    text = (
        "Geo Point;Geo Shape;ID;CP\n"
        '48.8808838255, 2.16537617962;"{""coordinates"": [2.16537617962, 48.8808838255], ""type"": ""Point""}";RBF92_08;92500\n'
    )
    table = read_source(write("ods.csv", text))
    assert table.coordinate_columns == ["Geo Point"]
    assert table.geometry_form == "cellule « lat, lon » « Geo Point »"
    assert table.frame.loc[0, "CP"] == "92500"
    assert_lonlat(table, 0, 2.16537617962, 48.8808838255)


def test_geopoint_array_lon_lat_with_embedded_newline(write):
    # The national schema's own example writes the cell with a newline inside the quotes.
    text = 'id_local,code_com,coordonneesxy,capacite\nSTSI01,38185,"[5.7145295,45.191463]\n",8\n'
    hint = {"point": "coordonneesxy", "order": "lonlat"}
    for coordinates in (hint, None):
        table = read_source(write("velo.csv", text), coordinates=coordinates)
        assert table.coordinate_columns == ["coordonneesxy"]
        assert table.geometry_form == "cellule « [lon, lat] » « coordonneesxy »"
        assert table.frame.loc[0, "code_com"] == "38185"
        assert_lonlat(table, 0, LON, LAT)


def test_geo_point_2d_array_is_lat_lon(write):
    text = 'nom;geo_point_2d\nArceau;"[45.191463, 5.7145295]"\nAutre;"[45.2, 5.72]"\n'
    table = read_source(write("gp2d.csv", text))
    assert table.geometry_form == "cellule « [lat, lon] » « geo_point_2d »"
    assert "coordinates-swapped" not in rules(table)
    assert_lonlat(table, 0, LON, LAT)


def test_geojson_geometry_in_a_cell(write):
    text = (
        "id;Geo Shape\n"
        '1;"{""type"": ""LineString"", ""coordinates"": [[2.304044, 48.8496], [2.305224, 48.850409]]}"\n'
        '2;"{""type"": ""Point"", ""coordinates"": [5.7145295, 45.191463]}"\n'
        "3;\n"
    )
    table = read_source(write("shape.csv", text))
    assert table.coordinate_columns == ["Geo Shape"]
    assert table.source_crs == "OGC:CRS84"
    assert table.geometry.iloc[0].geom_type == "LineString"
    assert shapely.get_coordinates(table.geometry.iloc[0]).tolist() == [[2.304044, 48.8496], [2.305224, 48.850409]]
    assert_lonlat(table, 1, LON, LAT)
    assert table.geometry.iloc[2] is None
    assert table.count_null_geometry == 1


def test_ewkt_and_wkt_cells(write):
    # A comma-separated file: the ';' of "SRID=4326;" sits inside the cell.
    text = (
        "id,geom\n"
        "1,SRID=4326;POINT (5.7145295 45.191463)\n"
        "2,SRID=2154;POINT (649750.13 6977570.07)\n"
    )
    table = read_source(write("ewkt.csv", text))
    assert table.coordinate_columns == ["geom"]
    assert "EWKT (SRID=4326)" in table.crs_source and "EWKT (SRID=2154)" in table.crs_source
    assert_lonlat(table, 0, LON, LAT)
    assert_lonlat(table, 1, 2.3012115556, 49.894837361, tol=1e-6)  # Amiens cathedral, see test_projections
    plain = read_source(write("wkt.csv", 'id,wkt\n1,"POINT (5.7145295 45.191463)"\n'))
    assert plain.source_crs == "EPSG:4326"
    assert_lonlat(plain, 0, LON, LAT)


def test_decimal_commas_and_zero_padded_values(write):
    text = "nom;lat;lon\nA; 00000046,1645193; 00000005,2162421\nB;45,191463;5,7145295\n"
    table = read_source(write("comma.csv", text))
    assert_lonlat(table, 0, 5.2162421, 46.1645193)
    assert_lonlat(table, 1, LON, LAT)
    assert table.frame.loc[0, "lat"] == " 00000046,1645193"  # the text itself is kept for validation


def test_wgs84_columns_preferred_to_lambert93_beside_them(write):
    # Hauts-de-Seine open data publishes CC49 and WGS84 columns side by side (borne RBF92_08).
    text = (
        "ID;X_CC49;Y_CC49;X_WGS84;Y_WGS84\n"
        "RBF92_08;1638789.9045;8187090.8597;2.16537617962;48.8808838255\n"
    )
    table = read_source(write("both.csv", text))
    assert table.coordinate_columns == ["X_WGS84", "Y_WGS84"]
    assert "« X_CC49 » / « Y_CC49 » écartées" in table.geometry_form
    assert "coordinates-choice" in rules(table)
    assert_lonlat(table, 0, 2.16537617962, 48.8808838255)
    l93 = "nom;x;y;lat;lon\nAmiens;649750.13;6977570.07;49.894837361;2.3012115556\n"
    table = read_source(write("l93_wgs.csv", l93))
    assert table.coordinate_columns == ["lon", "lat"]
    assert "« x » / « y » écartées" in table.geometry_form


def test_declared_projected_crs_selects_the_projected_pair(write):
    text = "nom;x;y;lat;lon\nAmiens;649750.13;6977570.07;0;0\n"
    table = read_source(write("declared.csv", text), crs="2154")
    assert table.coordinate_columns == ["x", "y"]
    assert table.source_crs == "EPSG:2154"
    assert table.crs_source == "déclaré par --crs (2154)"
    assert_lonlat(table, 0, 2.3012115556, 49.894837361)


def test_swapped_latitude_and_longitude_whole_file(write):
    # Columns named the wrong way round: every row outside France, inside once swapped.
    text = "nom;lat;lon\nA;5.7145295;45.191463\nB;5.72;45.2\n"
    table = read_source(write("swapped.csv", text))
    assert_lonlat(table, 0, LON, LAT)
    swapped = [p for p in table.notes if p.rule == "coordinates-swapped"]
    assert len(swapped) == 1 and swapped[0].severity == "warning" and swapped[0].row is None


def test_swapped_single_row_is_reported_with_its_line(write):
    text = "nom;lat;lon\nA;45.191463;5.7145295\nB;5.72;45.2\nC;45.3;5.8\n"
    table = read_source(write("one_swapped.csv", text))
    assert_lonlat(table, 1, 5.72, 45.2)
    notes = [p for p in table.notes if p.rule == "coordinates-swapped"]
    assert [(p.row, p.severity) for p in notes] == [(3, "warning")]


def test_unparsable_coordinates_give_no_geometry_and_a_note(write):
    text = "nom;lat;lon\nA;45.191463;5.7145295\nB;quarante-cinq;5.72\nC;;\nD;45.3;5.8\n"
    table = read_source(write("bad.csv", text))
    assert table.count == 4  # no row dropped by the reader
    assert table.geometry.iloc[1] is None and table.geometry.iloc[2] is None
    notes = [p for p in table.notes if p.rule == "coordinates-unparsable"]
    assert [(p.row, p.severity) for p in notes] == [(3, "warning")]  # empty row C: geometry-missing, decided later
    assert "quarante-cinq" in notes[0].value


def test_unparsable_point_cells(write):
    text = 'id,coordonneesxy\n1,"[5.7145295,45.191463]"\n2,"[5.7,]"\n'
    table = read_source(write("badcell.csv", text), coordinates={"point": "coordonneesxy", "order": "lonlat"})
    assert table.geometry.iloc[1] is None
    assert [p.row for p in table.notes if p.rule == "coordinates-unparsable"] == [3]


def test_no_coordinates_at_all(write):
    table = read_source(write("none.csv", "nom;commune\nA;Nice\n"))
    assert table.geometry.isna().all()
    assert "coordinates-not-found" in rules(table)


def test_projected_values_that_fit_nowhere(write):
    with pytest.raises(CRSError) as error:
        read_source(write("nowhere.csv", "x;y\n123456789;987654321\n"))
    assert "nowhere.csv" in str(error.value) and "--crs" in str(error.value)


def test_frame_keeps_coordinate_columns(write):
    table = read_source(write("keep.csv", "nom;lat;lon\nA;45.191463;5.7145295\n"))
    assert list(table.frame.columns) == ["nom", "lat", "lon"]
    assert isinstance(table.frame, pd.DataFrame)
    assert table.geometry.crs.to_epsg() == 4326
