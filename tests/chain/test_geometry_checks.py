"""Geometry checks: missing, invalid (repaired and counted), wrong type, outside the territory."""

import geopandas as gpd
import numpy as np
import shapely

from layers.geometry import check_geometries
from layers.report import Report
from layers.territory import Territory


def run(geoms, kind):
    report = Report(layer="t", source="f")
    series = gpd.GeoSeries(geoms, crs="EPSG:4326")
    rows = np.arange(2, len(geoms) + 2)
    fixed, usable = check_geometries(series, kind, rows, Territory.default(), report)
    return fixed, usable, report


def test_bow_tie_polygon_is_repaired_and_counted():
    bow_tie = shapely.Polygon([(5.0, 45.0), (5.1, 45.1), (5.1, 45.0), (5.0, 45.1), (5.0, 45.0)])
    assert not bow_tie.is_valid
    fixed, usable, report = run([bow_tie], "Polygon")
    assert usable.tolist() == [True]
    assert fixed.iloc[0].is_valid and fixed.iloc[0].geom_type in ("MultiPolygon", "Polygon")
    assert fixed.iloc[0].area > 0
    assert report.counts["geometries_reparees"] == 1
    assert [p.rule for p in report.problems] == ["geometry-repaired"]
    assert report.problems[0].row == 2 and report.problems[0].severity == "warning"


def test_missing_wrong_type_and_outside_are_left_out():
    geoms = [
        shapely.LineString([(5.0, 45.0), (5.1, 45.1)]),
        None,
        shapely.Point(5.0, 45.0),                       # a point in a line layer
        shapely.LineString([(-30.0, 30.0), (-29.0, 31.0)]),  # Atlantic
        shapely.LineString([(5.0, 45.0), (5.0, 45.0)]),  # degenerate: invalid, repaired into a point
        shapely.MultiLineString([[(5.0, 45.0), (5.1, 45.1)], [(5.2, 45.2), (5.3, 45.3)]]),
    ]
    fixed, usable, report = run(geoms, "LineString")
    assert usable.tolist() == [True, False, False, False, False, True]
    rules = {(p.rule, p.row) for p in report.problems}
    assert ("geometry-missing", 3) in rules
    assert ("geometry-type", 4) in rules
    assert ("outside-territory", 5) in rules
    assert any(rule in ("geometry-type", "geometry-invalid") and row == 6 for rule, row in rules)


def test_overseas_points_are_inside_the_default_territory():
    points = [shapely.Point(-61.0, 14.6), shapely.Point(55.5, -21.1), shapely.Point(-52.3, 4.9)]  # Martinique, Réunion, Guyane
    _, usable, _ = run(points, "Point")
    assert usable.all()
