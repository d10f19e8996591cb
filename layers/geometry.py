"""Geometry checks before publication: missing, invalid (repaired), wrong type, outside the territory.

All vectorised with shapely 2. Returns a boolean "usable" mask; the caller leaves the
other rows out (lenient) or refuses the file (strict).
"""

from __future__ import annotations

import numpy as np
import shapely
import geopandas as gpd

from .report import Report

# Geometry types accepted per catalogue geometry kind (multi-parts are accepted and kept).
ACCEPTED = {
    "Point": {"Point"},
    "LineString": {"LineString", "MultiLineString"},
    "Polygon": {"Polygon", "MultiPolygon"},
}
_PART_TYPE = {"Point": 0, "LineString": 1, "Polygon": 3}
_TYPE_ID = {"Point": 0, "LineString": 1, "Polygon": 3, "MultiPoint": 4, "MultiLineString": 5, "MultiPolygon": 6}


def _report_rows(report: Report, mask: np.ndarray, rows: np.ndarray, rule: str, message: str,
                 severity: str = "error", limit: int = 1000) -> None:
    for row in rows[mask][:limit]:
        report.add(rule, message, row=int(row), severity=severity)  # type: ignore[arg-type]
    extra = int(mask.sum()) - limit
    if extra > 0:
        report.add(rule, f"… et {extra} autre(s) ligne(s) : {message}", severity=severity)  # type: ignore[arg-type]


def check_geometries(geometry: gpd.GeoSeries, kind: str, rows: np.ndarray, territory, report: Report
                     ) -> tuple[gpd.GeoSeries, np.ndarray]:
    """Repair and check ``geometry`` (EPSG:4326); returns (repaired geometry, usable mask)."""
    geoms = np.asarray(geometry.values, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    _report_rows(report, missing, rows, "geometry-missing", "géométrie absente : ligne non publiée")
    report.count("geometries_absentes", int(missing.sum()))

    invalid = ~missing & ~shapely.is_valid(geoms)
    if invalid.any():
        repaired = shapely.make_valid(geoms[invalid])
        # make_valid may return a collection mixing dimensions: keep the parts of the expected kind.
        if kind in _PART_TYPE:
            parts_kind = _PART_TYPE[kind]
            types = shapely.get_type_id(repaired)
            collection = types == 7
            if collection.any():
                fixed = []
                for g in repaired[collection]:
                    parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) == parts_kind]
                    fixed.append(shapely.union_all(parts) if parts else None)
                repaired[collection] = np.array(fixed, dtype=object)
        geoms = geoms.copy()
        geoms[invalid] = repaired
        _report_rows(report, invalid, rows, "geometry-repaired", "géométrie invalide réparée (make_valid)", "warning")
        report.count("geometries_reparees", int(invalid.sum()))

    now_missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    broken = now_missing & ~missing
    _report_rows(report, broken, rows, "geometry-invalid", "géométrie invalide et irréparable : ligne non publiée")

    types = shapely.get_type_id(geoms)
    wrong_type = ~now_missing & ~np.isin(types, [_TYPE_ID[t] for t in ACCEPTED[kind]])
    _report_rows(report, wrong_type, rows, "geometry-type", f"type de géométrie inattendu (attendu : {kind}) : ligne non publiée")

    present = ~now_missing & ~wrong_type
    outside = np.zeros(len(geoms), dtype=bool)
    if present.any():
        points = shapely.point_on_surface(geoms[present])
        inside = territory.contains(shapely.get_x(points), shapely.get_y(points))
        outside[np.flatnonzero(present)[~inside]] = True
    _report_rows(report, outside, rows, "outside-territory", f"hors du territoire ({territory.name}) : ligne non publiée")
    report.count("hors_territoire", int(outside.sum()))

    usable = present & ~outside
    return gpd.GeoSeries(geoms, index=geometry.index, crs="EPSG:4326"), usable
