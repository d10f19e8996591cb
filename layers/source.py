"""What a reader hands to the rest of the chain: attributes, geometry in WGS84, and how they were found."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .report import Problem


@dataclass
class SourceTable:
    """One layer of one source file, read and put in WGS84 (longitude first).

    ``frame`` holds the attribute columns as the file has them (names stripped of
    surrounding spaces and of a leading ``#``-comment prefix; CSV cells as strings, with
    missing cells as ``None``/NA; typed columns for GeoPackage/Shapefile/GeoJSON). Columns
    that only carried coordinates stay in ``frame`` so that validation can check them.
    ``geometry`` is aligned with ``frame`` (same index), in EPSG:4326 lon/lat, with
    ``None`` where the row has no usable geometry.
    """

    path: Path
    format: str  # "CSV", "GeoJSON", "ESRI Shapefile", "GPKG"
    frame: pd.DataFrame
    geometry: gpd.GeoSeries  # EPSG:4326, x = longitude
    row_numbers: np.ndarray  # source row number per row (CSV: header = 1, first data row = 2; others: feature number from 1)
    source_crs: str | None  # "EPSG:2154", "OGC:CRS84", … — what the coordinates were in before reprojection
    crs_source: str  # how the CRS was found, in French ("déclaré par --crs", "fichier .prj (WKT ESRI, identifié EPSG:2154)", "détecté par la plage des valeurs", …)
    geometry_form: str  # how the geometry was found, in French ("géométrie du fichier", "colonnes lat/lon « lat_coor1 » / « long_coor1 »", "cellule « lat, lon » « Geo Point »", …)
    encoding: str | None = None
    separator: str | None = None
    layer: str | None = None
    layers: list[str] = field(default_factory=list)
    coordinate_columns: list[str] = field(default_factory=list)  # columns the geometry was built from
    notes: list[Problem] = field(default_factory=list)  # reader warnings: swapped axes, unparsable coordinates…

    @property
    def count(self) -> int:
        return len(self.frame)

    @property
    def count_null_geometry(self) -> int:
        return int(self.geometry.isna().sum() + self.geometry.is_empty.fillna(False).sum())
