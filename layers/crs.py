"""Coordinate reference systems: read what a file or a user declares, recognise what a
file leaves unsaid, and bring every coordinate to WGS84 longitude/latitude.

All transformations go through pyproj with ``always_xy=True`` so that x is always the
easting or the longitude, whatever the axis order the EPSG database gives a CRS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyproj
import shapely
from pyproj.exceptions import CRSError as ProjCRSError

from .errors import CRSError
from .territory import Territory

WGS84 = "EPSG:4326"
CRS84 = "OGC:CRS84"

# Names people type for the usual French systems, besides EPSG codes.
_ALIASES = {
    "wgs84": WGS84,
    "wgs 84": WGS84,
    "crs84": CRS84,
    "lambert93": "EPSG:2154",
    "lambert-93": "EPSG:2154",
    "lambert 93": "EPSG:2154",
    "l93": "EPSG:2154",
}

# Projected systems tried, in order of preference, when bare X/Y columns come without a
# declared CRS: Lambert-93 first (the legal system for metropolitan France, so it wins
# ties), the nine conic conformal zones, then the overseas UTM zones (the French
# realisations first), and the legacy NTF Lambert II étendu still found in old exports.
CANDIDATE_CODES: tuple[str, ...] = (
    "EPSG:2154",
    *(f"EPSG:{code}" for code in range(3942, 3951)),
    "EPSG:5490",  # RGAF09 / UTM 20N — Guadeloupe, Martinique, Saint-Martin, Saint-Barthélemy
    "EPSG:4559",  # RRAF 1991 / UTM 20N
    "EPSG:32620",  # WGS 84 / UTM 20N
    "EPSG:2972",  # RGFG95 / UTM 22N — Guyane
    "EPSG:32622",
    "EPSG:2975",  # RGR92 / UTM 40S — La Réunion
    "EPSG:32740",
    "EPSG:4471",  # RGM04 / UTM 38S — Mayotte
    "EPSG:32738",
    "EPSG:4467",  # RGSPM06 / UTM 21N — Saint-Pierre-et-Miquelon
    "EPSG:32621",
    "EPSG:27572",  # NTF (Paris) / Lambert zone II (étendu)
)

# Share of points that must land inside both the candidate's area of use and the
# territory for the candidate to be accepted.
DETECTION_THRESHOLD = 0.95
# Areas of use are published as tight boxes (UTM 22N stops at 54°W while western Guyane
# reaches 54.6°W): a degree of slack keeps border communes; the territory test still
# applies on top.
AREA_MARGIN_DEG = 1.0
_SAMPLE = 5000


@dataclass(frozen=True)
class Candidate:
    label: str
    crs: pyproj.CRS
    area: tuple[float, float, float, float]  # west, south, east, north


@dataclass
class Located:
    """Coordinates brought to WGS84, and how."""

    lon: np.ndarray
    lat: np.ndarray
    source_crs: str | None
    crs_source: str
    swapped: np.ndarray  # rows whose latitude/longitude were exchanged
    axes_exchanged: bool = False  # projected X and Y columns were exchanged as a whole


# -- parsing and naming ---------------------------------------------------------------

def parse_crs(value: str, *, file: str | Path | None = None, origin: str = "--crs") -> pyproj.CRS:
    """A CRS from what a person types: ``EPSG:2154``, ``2154``, ``OGC:CRS84``, ``urn:…``, WKT.

    Anything pyproj does not know raises ``CRSError`` naming the file.
    """
    text = str(value).strip()
    key = text.lower()
    if key in _ALIASES:
        text = _ALIASES[key]
    elif re.fullmatch(r"\d{4,6}", text):
        text = f"EPSG:{text}"
    try:
        return pyproj.CRS.from_user_input(text)
    except (ProjCRSError, TypeError, ValueError):
        raise CRSError(
            f"système de coordonnées inconnu « {value} » ({origin}) ; "
            "exemples acceptés : EPSG:2154, 2154, EPSG:4326, OGC:CRS84",
            file=file,
        ) from None


def crs_label(crs: pyproj.CRS | None) -> str | None:
    """``"EPSG:n"`` or ``"OGC:CRS84"``; ``None`` when pyproj cannot identify the system.

    ``min_confidence=70`` lets an ESRI WKT without authority (``RGF93_Lambert_93``)
    be recognised as EPSG:2154, while two systems that merely share an ellipsoid stay apart.
    """
    if crs is None:
        return None
    return _label_for_wkt(crs.to_wkt())


@lru_cache(maxsize=128)
def _label_for_wkt(wkt: str) -> str | None:
    # Identification searches the EPSG database: cached, it is asked for the same CRS often.
    crs = pyproj.CRS.from_wkt(wkt)
    authority = crs.to_authority(min_confidence=100)
    if authority == ("OGC", "CRS84"):
        return CRS84
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg}" if epsg is not None else None


def describe_wkt(wkt: str) -> tuple[pyproj.CRS, str | None, bool]:
    """Parse a WKT (``.prj``); return the CRS, its label, and whether the text carried an EPSG code."""
    crs = pyproj.CRS.from_wkt(wkt)
    has_code = bool(re.search(r'(AUTHORITY|ID)\s*\[\s*"EPSG"', wkt, flags=re.IGNORECASE))
    return crs, crs_label(crs), has_code


def is_geographic(crs: pyproj.CRS) -> bool:
    return bool(crs.is_geographic)


# -- transformation ------------------------------------------------------------------

@lru_cache(maxsize=64)
def _transformer(source_wkt: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(
        pyproj.CRS.from_wkt(source_wkt), WGS84, always_xy=True
    )


def to_lonlat(x: np.ndarray, y: np.ndarray, crs: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised transformation to WGS84; points that cannot be transformed become NaN."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if crs_label(crs) in (WGS84, CRS84):
        return x.copy(), y.copy()
    lon, lat = _transformer(crs.to_wkt()).transform(x, y, errcheck=False)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    lon[bad] = np.nan
    lat[bad] = np.nan
    return lon, lat


def reproject_geometries(geoms: np.ndarray, crs: pyproj.CRS) -> np.ndarray:
    """Every vertex of every geometry to WGS84, in one vectorised pass."""
    if crs_label(crs) in (WGS84, CRS84):
        return geoms
    transformer = _transformer(crs.to_wkt())

    def _apply(coords: np.ndarray) -> np.ndarray:
        lon, lat = transformer.transform(coords[:, 0], coords[:, 1], errcheck=False)
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, _apply)


# -- recognition from value ranges ----------------------------------------------------

@lru_cache(maxsize=1)
def candidates() -> tuple[Candidate, ...]:
    out = []
    for code in CANDIDATE_CODES:
        crs = pyproj.CRS.from_user_input(code)
        area = crs.area_of_use
        bounds = area.bounds if area is not None else (-180.0, -90.0, 180.0, 90.0)
        out.append(Candidate(code, crs, bounds))
    return tuple(out)


def _sample(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    if len(x) > _SAMPLE:
        # Evenly spaced rows rather than random ones: the same file always gives the same answer.
        idx = np.linspace(0, len(x) - 1, _SAMPLE).astype(int)
        x, y = x[idx], y[idx]
    return x, y


def looks_like_degrees(x: np.ndarray, y: np.ndarray) -> bool:
    """True when (nearly) all finite values fit longitude/latitude ranges in some order."""
    x, y = _sample(np.asarray(x, float), np.asarray(y, float))
    if len(x) == 0:
        return False
    ok = (np.abs(x) <= 180) & (np.abs(y) <= 180) & ((np.abs(x) <= 90) | (np.abs(y) <= 90))
    return float(ok.mean()) >= DETECTION_THRESHOLD


def _fit(candidate: Candidate, x: np.ndarray, y: np.ndarray, territory: Territory) -> float:
    lon, lat = to_lonlat(x, y, candidate.crs)
    west, south, east, north = candidate.area
    m = AREA_MARGIN_DEG
    in_area = (lon >= west - m) & (lon <= east + m) & (lat >= south - m) & (lat <= north + m)
    return float((in_area & territory.contains(lon, lat)).mean())


@dataclass(frozen=True)
class Detection:
    candidate: Candidate
    score: float
    alternatives: tuple[str, ...] = ()  # other candidates that fit too but put the points elsewhere

    @property
    def source(self) -> str:
        text = (f"détecté par la plage des valeurs ({self.candidate.label}, "
                f"{self.score:.0%} des points sur le territoire")
        if self.alternatives:
            text += f" ; {', '.join(self.alternatives)} possible(s) aussi : précisez --crs en cas de doute"
        return text + ")"


def detect_projection(x: np.ndarray, y: np.ndarray, territory: Territory) -> Detection | None:
    """The candidate projected CRS that puts ≥95 % of the points in the territory, or None.

    On a tie the earlier candidate wins (Lambert-93 first); candidates that fit as well but
    put the points somewhere else (Lambert-93 in Corsica versus CC47 in Brittany) are named.
    """
    xs, ys = _sample(np.asarray(x, float), np.asarray(y, float))
    if len(xs) == 0:
        return None
    fitting = [(c, score) for c in candidates() if (score := _fit(c, xs, ys, territory)) >= DETECTION_THRESHOLD]
    if not fitting:
        return None
    best, score = max(fitting, key=lambda item: item[1])  # max() keeps the first of equals
    lon, lat = to_lonlat(xs, ys, best.crs)
    elsewhere = []
    for other, _ in fitting:
        olon, olat = to_lonlat(xs, ys, other.crs)
        # Realisations of one zone (RGAF09, RRAF 1991, WGS 84 / UTM 20N) agree to centimetres.
        if other is not best and np.nanmax(np.abs(olon - lon) + np.abs(olat - lat)) > 0.01:
            elsewhere.append(other.label)
    return Detection(best, score, tuple(elsewhere))


def _ranges(x: np.ndarray, y: np.ndarray) -> str:
    fx, fy = np.asarray(x, float), np.asarray(y, float)
    finite = np.isfinite(fx) & np.isfinite(fy)
    if not finite.any():
        return "aucune valeur numérique"
    return (
        f"x de {np.min(fx[finite]):.6g} à {np.max(fx[finite]):.6g}, "
        f"y de {np.min(fy[finite]):.6g} à {np.max(fy[finite]):.6g}"
    )


def _swap_degrees(
    lon: np.ndarray, lat: np.ndarray, territory: Territory
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exchange lon/lat on the rows that are outside the territory but inside once swapped."""
    swapped = ~territory.contains(lon, lat) & territory.contains(lat, lon)
    if swapped.any():
        lon, lat = np.where(swapped, lat, lon), np.where(swapped, lon, lat)
    return lon, lat, swapped


def locate_points(
    x: np.ndarray,
    y: np.ndarray,
    *,
    territory: Territory,
    declared: pyproj.CRS | None = None,
    declared_source: str = "",
    what: str = "les coordonnées",
    file: str | Path | None = None,
) -> Located:
    """Bring x/y (x = longitude or easting) to WGS84.

    A declared CRS is used as is; otherwise degree values are taken as WGS84 and other
    values are matched against the candidate projections. Geographic coordinates that
    fall outside the territory but inside once swapped are swapped back row by row.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if declared is not None:
        lon, lat = to_lonlat(x, y, declared)
        label = crs_label(declared) or declared.name
        swapped = np.zeros(len(x), dtype=bool)
        if is_geographic(declared):
            lon, lat, swapped = _swap_degrees(lon, lat, territory)
        return Located(lon, lat, label, declared_source, swapped)

    if not (np.isfinite(x) & np.isfinite(y)).any():
        # Nothing to recognise: every row is left without geometry and reported as such.
        return Located(x.copy(), y.copy(), None, "aucune coordonnée lisible", np.zeros(len(x), dtype=bool))

    if looks_like_degrees(x, y):
        lon, lat, swapped = _swap_degrees(x.copy(), y.copy(), territory)
        return Located(
            lon, lat, WGS84, "valeurs en degrés : WGS84 présumé (EPSG:4326)", swapped
        )

    found = detect_projection(x, y, territory)
    exchanged = False
    if found is None:
        # Y written in the X column and the reverse: try once with the axes exchanged.
        found = detect_projection(y, x, territory)
        exchanged = found is not None
        if exchanged:
            x, y = y, x
    if found is None:
        raise CRSError(
            f"impossible de reconnaître la projection de {what} ({_ranges(x, y)}) : "
            "aucune projection connue (Lambert-93, CC42 à CC50, UTM des outre-mer, "
            "WGS84) ne place ces points sur le territoire ; précisez-la avec --crs "
            "(par exemple --crs EPSG:2154)",
            file=file,
        )
    lon, lat = to_lonlat(x, y, found.candidate.crs)
    return Located(lon, lat, found.candidate.label, found.source, np.zeros(len(x), dtype=bool), exchanged)


def _sample_coordinates(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    present = geoms[~shapely.is_missing(geoms)]
    if len(present) > _SAMPLE:
        present = present[np.linspace(0, len(present) - 1, _SAMPLE).astype(int)]
    coords = shapely.get_coordinates(present)
    return coords[:, 0], coords[:, 1]


def locate_geometries(
    geoms: np.ndarray,
    *,
    territory: Territory,
    crs: pyproj.CRS | None,
    crs_source: str,
    file: str | Path | None = None,
    what: str = "les géométries",
) -> tuple[np.ndarray, str | None, str, np.ndarray]:
    """Geometries (any type) to WGS84: reprojected when the CRS is known, recognised
    from the coordinate ranges when it is not; geographic features outside the
    territory but inside once their axes are swapped are swapped back.

    Returns the geometries, the source CRS label, how it was found, and the swapped mask.
    """
    geoms = np.asarray(geoms, dtype=object)
    if crs is None:
        x, y = _sample_coordinates(geoms)
        if len(x) == 0 or looks_like_degrees(x, y):
            crs = pyproj.CRS.from_user_input(WGS84)
            crs_source = "valeurs en degrés : WGS84 présumé (EPSG:4326)"
        else:
            found = detect_projection(x, y, territory)
            if found is None:
                raise CRSError(
                    f"impossible de reconnaître la projection de {what} ({_ranges(x, y)}) ; "
                    "précisez-la avec --crs (par exemple --crs EPSG:2154)",
                    file=file,
                )
            crs, crs_source = found.candidate.crs, found.source
    label = crs_label(crs) or crs.name
    out = reproject_geometries(geoms, crs)
    swapped = np.zeros(len(out), dtype=bool)
    if is_geographic(crs) and len(out):
        # One representative point per feature (its bounding-box centre) decides the swap.
        bounds = shapely.bounds(out)
        cx = (bounds[:, 0] + bounds[:, 2]) / 2
        cy = (bounds[:, 1] + bounds[:, 3]) / 2
        swapped = ~territory.contains(cx, cy) & territory.contains(cy, cx)
        if swapped.any():
            out = out.copy()
            out[swapped] = shapely.transform(out[swapped], lambda c: c[:, ::-1])
    return out, label, crs_source, swapped
