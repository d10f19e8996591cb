"""Source readers: one entry point that turns any supported file into a ``SourceTable``.

Formats: CSV (``.csv``, ``.txt``, ``.tsv``), GeoJSON (``.geojson``, ``.json``), Shapefile
(``.shp``, or a ``.zip`` holding one, possibly in a sub-folder), GeoPackage (``.gpkg``).
Every failure reaches the caller as ``InputFileError`` or ``CRSError`` with a French
message naming the file — never as a raw GDAL, Arrow or pandas exception.
"""

from __future__ import annotations

import csv
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable

import pandas as pd
import pyarrow as pa
import shapely.errors

from ..errors import GeocommuneError, InputFileError
from ..report import Problem
from ..source import SourceTable
from ..territory import Territory
from .tabular import read_csv
from .vector import GDAL_ERRORS, VectorTarget, plain_sidecar, read_vector, vector_layers

__all__ = ["read_source", "list_layers", "detect_format", "SUFFIX_FORMATS"]

SUFFIX_FORMATS = {
    ".csv": "CSV", ".txt": "CSV", ".tsv": "CSV",
    ".geojson": "GeoJSON", ".json": "GeoJSON",
    ".shp": "ESRI Shapefile",
    ".gpkg": "GPKG",
    ".zip": "ZIP",
}
# Library failures that mean "this file cannot be read", turned into InputFileError.
_LIBRARY_ERRORS = (
    *GDAL_ERRORS, pa.ArrowException, pd.errors.ParserError, pd.errors.EmptyDataError,
    UnicodeError, csv.Error, zipfile.BadZipFile, shapely.errors.GEOSException,
)


def detect_format(path: Path) -> str:
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(SUFFIX_FORMATS))
        raise InputFileError(
            f"format de fichier inconnu « {path.suffix or '(sans extension)'} » ; formats lus : {known}",
            file=path,
        )
    return fmt


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputFileError("fichier introuvable", file=path)
    if not path.is_file():
        raise InputFileError("ce chemin n'est pas un fichier", file=path)
    try:
        with open(path, "rb") as handle:
            first = handle.read(1)
    except OSError as exc:
        raise InputFileError(f"fichier illisible : {exc.strerror or exc}", file=path) from None
    if not first:
        raise InputFileError("fichier vide : aucune ligne à lire", file=path)


# -- zip archives ------------------------------------------------------------------

def _members(archive: zipfile.ZipFile) -> list[str]:
    return [
        name for name in archive.namelist()
        if not name.endswith("/") and "__MACOSX" not in name
        and not PurePosixPath(name).name.startswith(".")
    ]


def _zip_sidecar(path: Path, member: str) -> Callable[[str, int | None], bytes | None]:
    def read(suffix: str, limit: int | None = None) -> bytes | None:
        with zipfile.ZipFile(path) as archive:
            wanted = member if not suffix else str(PurePosixPath(member).with_suffix(suffix))
            lookup = {name.lower(): name for name in _members(archive)}
            name = lookup.get(wanted.lower())
            if name is None:
                return None
            with archive.open(name) as handle:
                return handle.read(limit if limit is not None else -1)

    return read


def _zip_entries(path: Path) -> tuple[str, list[str]]:
    """(format, members of that format) — Shapefiles first, then GeoPackage, GeoJSON, CSV."""
    with zipfile.ZipFile(path) as archive:
        members = _members(archive)
    for fmt in ("ESRI Shapefile", "GPKG", "GeoJSON", "CSV"):
        found = sorted(m for m in members if SUFFIX_FORMATS.get(PurePosixPath(m).suffix.lower()) == fmt)
        if found:
            return fmt, found
    raise InputFileError("archive zip sans fichier lisible (.shp, .gpkg, .geojson, .csv)", file=path)


def _read_zip(path: Path, *, layer: str | None, crs: str | None,
              coordinates: dict[str, str] | None, territory: Territory) -> SourceTable:
    fmt, entries = _zip_entries(path)
    notes: list[Problem] = []
    member = entries[0]
    if fmt in ("ESRI Shapefile", "CSV"):  # one layer per file: the layer is chosen by file name
        stems = [PurePosixPath(m).stem for m in entries]
        if layer is not None:
            if layer not in stems:
                raise InputFileError(
                    f"couche « {layer} » absente de l'archive ; couches : {', '.join(stems)}", file=path
                )
            member = entries[stems.index(layer)]
        elif len(entries) > 1:
            notes.append(Problem("several-layers", f"{len(entries)} fichiers dans l'archive ({', '.join(stems)}) : "
                                 f"« {stems[0]} » est lu ; choisissez-en un autre avec --layer", severity="info"))
        layer = None
    if fmt == "CSV":
        with tempfile.TemporaryDirectory(prefix="geocommune-") as tmp, zipfile.ZipFile(path) as archive:
            extracted = Path(archive.extract(member, tmp))
            table = read_csv(extracted, crs=crs, coordinates=coordinates, territory=territory, display_path=path)
        table.layers = [PurePosixPath(m).stem for m in entries]
    else:
        target = VectorTarget(f"/vsizip/{path.resolve()}/{member}", fmt, path, _zip_sidecar(path, member))
        table = read_vector(target, layer=layer, crs=crs, coordinates=coordinates, territory=territory)
        if fmt == "ESRI Shapefile":
            table.layers = [PurePosixPath(m).stem for m in entries]
    table.notes = notes + table.notes
    return table


# -- public API --------------------------------------------------------------------

def read_source(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: str | None = None,
    coordinates: dict[str, str] | None = None,
    territory: Territory | None = None,
) -> SourceTable:
    """Read one layer of a source file, with its geometry in WGS84 (longitude first).

    ``crs`` (the user's ``--crs``) wins over what the file declares; ``coordinates`` is
    the catalogue hint for tables (``{"lat": …, "lon": …}`` or ``{"point": …, "order": …}``).
    """
    path = Path(path)
    _check_file(path)
    fmt = detect_format(path)
    territory = territory or Territory.default()
    try:
        if fmt == "CSV":
            return read_csv(path, crs=crs, coordinates=coordinates, territory=territory)
        if fmt == "ZIP":
            return _read_zip(path, layer=layer, crs=crs, coordinates=coordinates, territory=territory)
        target = VectorTarget(str(path), fmt, path, plain_sidecar(path), local=path)
        return read_vector(target, layer=layer, crs=crs, coordinates=coordinates, territory=territory)
    except GeocommuneError:
        raise
    except _LIBRARY_ERRORS as exc:
        detail = " ".join(str(exc).split())[:300]
        raise InputFileError(f"fichier illisible ({type(exc).__name__} : {detail})", file=path) from None


def list_layers(path: str | Path) -> list[str]:
    """Layer names of a source: one per CSV or Shapefile, every table of a GeoPackage."""
    path = Path(path)
    _check_file(path)
    fmt = detect_format(path)
    try:
        if fmt == "CSV":
            return [path.stem]
        if fmt == "ZIP":
            inner, entries = _zip_entries(path)
            if inner in ("ESRI Shapefile", "CSV"):
                return [PurePosixPath(m).stem for m in entries]
            source = f"/vsizip/{path.resolve()}/{entries[0]}"
            return vector_layers(VectorTarget(source, inner, path, _zip_sidecar(path, entries[0])))
        return vector_layers(VectorTarget(str(path), fmt, path, plain_sidecar(path), local=path))
    except GeocommuneError:
        raise
    except _LIBRARY_ERRORS as exc:
        raise InputFileError(f"fichier illisible ({' '.join(str(exc).split())[:300]})", file=path) from None
