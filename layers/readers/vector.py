"""GeoJSON, Shapefile (plain or zipped) and GeoPackage sources, read through pyogrio/GDAL.

GDAL does the parsing and the text decoding (``.cpg``, DBF language byte); this module
finds out what the file declares about its CRS and encoding — to say so in the report —
and hands the geometries to ``layers.crs`` to be brought to WGS84.
"""

from __future__ import annotations

import re
import sqlite3
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError
from pyproj.exceptions import CRSError as ProjCRSError

from .. import crs as crslib
from ..errors import CRSError, InputFileError
from ..report import Problem
from ..source import SourceTable
from ..territory import Territory
from .coordinates import build_geometry

GDAL_ERRORS = (DataSourceError, DataLayerError, FieldError, GeometryError, RuntimeError, OSError)

# DBF language driver ids (byte 29) as GDAL maps them to code pages; used to say which
# encoding the file declared. GDAL itself does the decoding.
LDID_CODEPAGES = {
    0x01: "CP437", 0x02: "CP850", 0x03: "CP1252", 0x57: "ISO-8859-1", 0x58: "CP1252",
    0x59: "CP1252", 0x64: "CP852", 0x65: "CP866", 0x66: "CP865", 0x67: "CP861",
    0xC8: "CP1250", 0xC9: "CP1251", 0xCA: "CP1254", 0xCB: "CP1253",
}


@dataclass
class VectorTarget:
    """What pyogrio opens, and how to read the files that sit beside it."""

    source: str  # a path or a /vsizip/… path
    format: str  # "GeoJSON", "ESRI Shapefile", "GPKG"
    display: Path  # the path the user gave, for messages
    sidecar: Callable[[str, int | None], bytes | None]  # (suffix, max bytes) → bytes of a neighbour file
    local: Path | None = None  # the file on disk, when not inside an archive


def plain_sidecar(path: Path) -> Callable[[str, int | None], bytes | None]:
    def read(suffix: str, limit: int | None = None) -> bytes | None:
        if not suffix:  # the file itself
            candidates = (path,)
        else:
            candidates = (path.with_suffix(suffix), path.with_suffix(suffix.upper()))
        for candidate in candidates:
            if candidate.is_file():
                with open(candidate, "rb") as handle:
                    return handle.read(limit if limit is not None else -1)
        return None

    return read


def _error(message: str, exc: Exception, file: Path) -> InputFileError:
    detail = re.sub(r"\s+", " ", str(exc)).strip()[:300]
    return InputFileError(f"{message} (GDAL : {detail})", file=file)


def vector_layers(target: VectorTarget) -> list[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL chatter; failures still raise
            return [str(name) for name in pyogrio.list_layers(target.source)[:, 0]]
    except GDAL_ERRORS as exc:
        raise _error(f"fichier {target.format} illisible ou corrompu", exc, target.display) from None


# -- what the file declares --------------------------------------------------------

def shapefile_encoding(sidecar: Callable[[str, int | None], bytes | None]) -> tuple[str, str | None]:
    """(label for the report, encoding to force on GDAL or None)."""
    cpg = sidecar(".cpg", 200)
    if cpg and cpg.strip():
        return f"{cpg.decode('ascii', 'ignore').strip()} (fichier .cpg)", None
    dbf = sidecar(".dbf", 4 << 20)
    if not dbf or len(dbf) < 32:
        return "ISO-8859-1 (par défaut)", None
    ldid = dbf[29]
    if ldid:
        name = LDID_CODEPAGES.get(ldid, f"page de code {ldid:#04x}")
        return f"{name} (octet de langue DBF {ldid:#04x}, sans .cpg)", None
    # Nothing declared: GDAL assumes ISO-8859-1, which garbles UTF-8 text. Look at the bytes.
    records = dbf[int.from_bytes(dbf[8:10], "little"):]
    if any(b > 0x7F for b in records):
        try:
            records.decode("utf-8")
            return "UTF-8 (détecté : ni .cpg ni octet de langue)", "UTF-8"
        except UnicodeDecodeError as exc:
            if exc.start >= len(records) - 4:  # cut in the middle of a character
                return "UTF-8 (détecté : ni .cpg ni octet de langue)", "UTF-8"
    return "ISO-8859-1 (par défaut : ni .cpg ni octet de langue)", None


def _shapefile_crs(target: VectorTarget) -> tuple[pyproj.CRS | None, str]:
    prj = target.sidecar(".prj", None)
    if not prj or not prj.strip():
        return None, ""
    wkt = prj.decode("utf-8", "replace").strip()
    try:
        crs, label, has_code = crslib.describe_wkt(wkt)
    except ProjCRSError:
        raise CRSError("fichier .prj illisible : projection inconnue ; précisez-la avec --crs",
                       file=target.display) from None
    if label is None:
        return crs, f"fichier .prj (« {crs.name} », sans code EPSG reconnu)"
    if has_code:
        return crs, f"fichier .prj ({label})"
    # ESRI writes "GCS_…"/"D_…" names and no authority; other writers may just omit the code.
    flavour = "WKT ESRI" if re.search(r'\[\s*"(GCS|D)_', wkt) else "WKT sans code EPSG"
    written = re.match(r'\s*\w+\[\s*"([^"]+)"', wkt)  # the name as the file writes it
    return crs, f"fichier .prj ({flavour} « {written.group(1) if written else crs.name} », identifié {label})"


def _gpkg_crs(target: VectorTarget, layer: str, gdal_crs: pyproj.CRS | None) -> tuple[pyproj.CRS | None, str]:
    srs = None
    if target.local is not None:
        try:
            uri = target.local.resolve().as_uri() + "?mode=ro"
            with sqlite3.connect(uri, uri=True) as con:
                srs = con.execute(
                    "SELECT g.srs_id, s.organization, s.organization_coordsys_id "
                    "FROM gpkg_geometry_columns g LEFT JOIN gpkg_spatial_ref_sys s ON s.srs_id = g.srs_id "
                    "WHERE lower(g.table_name) = lower(?)",
                    (layer,),
                ).fetchone()
        except sqlite3.Error:
            srs = None
    if gdal_crs is None:
        return None, ""
    label = crslib.crs_label(gdal_crs) or gdal_crs.name
    if srs is not None:
        return gdal_crs, f"GeoPackage (srs_id {srs[0]}, {label})"
    return gdal_crs, f"GeoPackage ({label})"


_CRS_MEMBER = re.compile(r'"crs"\s*:\s*\{[^{}]*\{[^{}]*"name"\s*:\s*"([^"]+)"', re.S)


def _geojson_crs(target: VectorTarget, gdal_crs: pyproj.CRS | None) -> tuple[pyproj.CRS | None, str]:
    """Without a ``crs`` member RFC 7946 says CRS84; a legacy member names the CRS."""
    head = (target.sidecar("", 1 << 20) or b"").decode("utf-8", "replace")
    match = _CRS_MEMBER.search(head)
    if not match:
        return pyproj.CRS.from_user_input(crslib.CRS84), "GeoJSON sans membre « crs » : CRS84 (RFC 7946)"
    name = match.group(1)
    try:
        # pyproj reads the URN forms (urn:ogc:def:crs:EPSG::2154, …:OGC:1.3:CRS84) exactly.
        crs = pyproj.CRS.from_user_input(name)
    except ProjCRSError:
        crs = gdal_crs
    if crs is None:
        return None, ""
    label = crslib.crs_label(crs) or crs.name
    return crs, f"membre « crs » du GeoJSON ({name} → {label})"


# -- reading -----------------------------------------------------------------------

def _choose_layer(layers: list[str], layer: str | None, target: VectorTarget) -> tuple[str, list[Problem]]:
    if not layers:
        raise InputFileError("aucune couche dans le fichier", file=target.display)
    if layer is not None:
        match = [name for name in layers if name == layer] or [n for n in layers if n.lower() == layer.lower()]
        if not match:
            raise InputFileError(f"couche « {layer} » absente ; couches du fichier : {', '.join(layers)}",
                                 file=target.display)
        return match[0], []
    notes = []
    if len(layers) > 1:
        notes.append(Problem(
            "several-layers",
            f"{len(layers)} couches dans le fichier ({', '.join(layers)}) : la première, « {layers[0]} », "
            "est lue ; choisissez-en une autre avec --layer",
            severity="info",
        ))
    return layers[0], notes


def _read(target: VectorTarget, layer: str, encoding: str | None) -> tuple[pd.DataFrame, list[Problem]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # on_invalid="fix" closes unclosed rings instead of failing on them; repairing
            # invalid geometries (self-intersections…) is left to validation.
            data = pyogrio.read_dataframe(
                target.source, layer=layer, on_invalid="fix", use_arrow=True, encoding=encoding
            )
        except GDAL_ERRORS as exc:
            raise _error(f"fichier {target.format} illisible ou corrompu", exc, target.display) from None
    notes = [
        Problem("reader-warning", f"GDAL : {w.message}", severity="info")
        for w in caught
        if issubclass(w.category, RuntimeWarning)
    ]
    return data, notes


def read_vector(
    target: VectorTarget,
    *,
    layer: str | None = None,
    crs: str | None = None,
    coordinates: dict[str, str] | None = None,
    territory: Territory,
) -> SourceTable:
    layers = vector_layers(target)
    name, notes = _choose_layer(layers, layer, target)
    encoding_label, encoding = "UTF-8", None
    if target.format == "ESRI Shapefile":
        encoding_label, encoding = shapefile_encoding(target.sidecar)
        if crs is None:
            _shapefile_crs(target)  # a broken .prj is a CRS problem: say so before GDAL trips on it
    data, more = _read(target, name, encoding)
    notes += more
    if len(data) == 0:
        raise InputFileError(f"aucune entité dans la couche « {name} »", file=target.display)

    has_geometry = isinstance(data, gpd.GeoDataFrame) and data.geometry.name in data.columns
    frame = pd.DataFrame(data.drop(columns=data.geometry.name) if has_geometry else data)
    frame.index = pd.RangeIndex(len(frame))
    row_numbers = np.arange(1, len(frame) + 1, dtype=np.int64)
    declared = crslib.parse_crs(crs, file=target.display) if crs else None
    geoms = np.asarray(data.geometry.to_numpy(), dtype=object) if has_geometry else None

    if geoms is None or shapely.is_missing(geoms).all():
        # An attribute table (GeoPackage without geometry, GeoJSON of null geometries…):
        # look for coordinate columns as in a CSV.
        result = build_geometry(frame, row_numbers=row_numbers, territory=territory, hint=coordinates,
                                declared=declared, declared_source=f"déclaré par --crs ({crs})", file=target.display)
        geoms, label, source, form = result.geometry, result.source_crs, result.crs_source, result.geometry_form
        coordinate_columns, notes = result.coordinate_columns, notes + result.notes
    else:
        geoms, label, source, more = _file_geometry(
            target, name, geoms, data.crs, declared, crs, territory, row_numbers)
        form, coordinate_columns, notes = "géométrie du fichier", [], notes + more
    notes += _invalid_note(geoms)
    return SourceTable(
        path=target.display, format=target.format, frame=frame,
        geometry=gpd.GeoSeries(geoms, index=frame.index, crs="EPSG:4326"),
        row_numbers=row_numbers, source_crs=label, crs_source=source, geometry_form=form,
        encoding=encoding_label, layer=name, layers=layers,
        coordinate_columns=coordinate_columns, notes=notes,
    )


def _file_geometry(
    target: VectorTarget, layer: str, geoms: np.ndarray, gdal_crs: pyproj.CRS | None,
    declared: pyproj.CRS | None, declared_text: str | None, territory: Territory, rows: np.ndarray,
) -> tuple[np.ndarray, str | None, str, list[Problem]]:
    """The file's geometries in WGS84: --crs, else what the file declares, else the value ranges."""
    notes: list[Problem] = []
    file_crs, source = _file_crs(target, layer, gdal_crs)
    presumed = target.format == "GeoJSON" and source.startswith("GeoJSON sans")
    if declared is not None:
        file_label = crslib.crs_label(file_crs) if file_crs is not None else None
        if file_crs is not None and not presumed and file_label != crslib.crs_label(declared):
            notes.append(Problem("crs-override", f"la projection déclarée par --crs ({declared_text}) remplace "
                                 f"celle du fichier ({file_label or file_crs.name})", severity="warning"))
        file_crs, source = declared, f"déclaré par --crs ({declared_text})"
    elif presumed and not _degrees(geoms):
        # A common mistake: Lambert-93 coordinates written into a GeoJSON without "crs".
        notes.append(Problem("crs-undeclared", "GeoJSON sans membre « crs » mais coordonnées hors des "
                             "plages en degrés : projection détectée d'après les valeurs", severity="warning"))
        file_crs, source = None, ""
    geoms, label, source, swapped = crslib.locate_geometries(
        geoms, territory=territory, crs=file_crs, crs_source=source, file=target.display
    )
    notes += [
        Problem("coordinates-swapped", "latitude et longitude inversées : remises dans l'ordre",
                row=int(rows[i]), severity="warning")
        for i in np.flatnonzero(swapped)
    ]
    return geoms, label, source, notes


def _file_crs(target: VectorTarget, layer: str, gdal_crs: pyproj.CRS | None) -> tuple[pyproj.CRS | None, str]:
    if target.format == "ESRI Shapefile":
        return _shapefile_crs(target)
    if target.format == "GPKG":
        return _gpkg_crs(target, layer, gdal_crs)
    return _geojson_crs(target, gdal_crs)


def _degrees(geoms: np.ndarray) -> bool:
    present = geoms[~shapely.is_missing(geoms)]
    coords = shapely.get_coordinates(present[:5000])
    return len(coords) == 0 or crslib.looks_like_degrees(coords[:, 0], coords[:, 1])


def _invalid_note(geoms: np.ndarray) -> list[Problem]:
    present = ~shapely.is_missing(geoms)
    invalid = int((~shapely.is_valid(geoms[present])).sum()) if present.any() else 0
    if not invalid:
        return []
    return [Problem("geometry-invalid-read", f"{invalid} géométrie(s) invalide(s) (anneaux croisés…) "
                    "lue(s) telle(s) quelle(s) : la réparation se fait à la validation", severity="info")]
