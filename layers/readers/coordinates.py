"""Point geometry from table columns: find where the coordinates are, parse them column-wise.

Forms (all seen in published files): two columns under many names (lat/lon, lat_coor1/long_coor1,
y/x, coord_y/coord_x, ylat/xlong…); one cell "lat, lon" (Opendatasoft Geo Point), "[lon,lat]"
(Table Schema geopoint) or "[lat, lon]" (geo_point_2d); GeoJSON (Geo Shape) or (E)WKT in a cell;
decimal commas, zero-padded values with spaces. Vectorised throughout (Arrow/pandas ``.str``,
numpy, shapely): Python loops run over columns, or over the few rows a note is written about.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyproj
import shapely

from .. import crs as crslib
from ..report import Problem
from ..territory import Territory

LAT_TOKENS = {"lat", "latitude", "ylat", "lati", "latitud"}
LON_TOKENS = {"lon", "lng", "long", "longitude", "xlong", "xlon", "longi", "longitud"}
X_TOKENS = {"x", "xcoord", "coordx", "xl", "xlamb", "xlambert", "easting"}
Y_TOKENS = {"y", "ycoord", "coordy", "yl", "ylamb", "ylambert", "northing"}

_NUM = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
# Named groups: the same patterns serve Python's re (sniffing) and Arrow's RE2 (parsing).
PAIR_RE = re.compile(rf"^\s*\(?\s*(?P<a>{_NUM})\s*[,;]\s*(?P<b>{_NUM})\s*\)?\s*$")
ARRAY_RE = re.compile(rf"^\s*\[\s*(?P<a>{_NUM})\s*,\s*(?P<b>{_NUM})\s*\]\s*$")
_TYPES = "Point|LineString|Polygon|MultiPoint|MultiLineString|MultiPolygon|GeometryCollection"
GEOJSON_RE = re.compile(rf'^\s*\{{.*"type"\s*:\s*"({_TYPES}|Feature)"', re.S)
WKT_RE = re.compile(rf"^\s*(?:SRID=(\d+)\s*;\s*)?({_TYPES})\b", re.I)
SRID_PREFIX = r"^\s*SRID=(\d+)\s*;\s*"
_SNIFF_ROWS = 200
_RANK_ROWS = 2000


@dataclass
class Plan:
    """Where the coordinates are and how to read them."""

    kind: str  # "pair" | "cell" | "geojson" | "wkt"
    columns: list[str]  # pair: [x/lon column, y/lat column]; otherwise [column]
    label: str  # "lat/lon" or "X/Y" for pairs, the cell form otherwise
    order: str = "lonlat"  # for "cell": order of the two numbers
    order_known: bool = True  # False: choose the order that fits the territory
    rank: float = 0.0


@dataclass
class GeometryResult:
    geometry: np.ndarray  # object array of shapely geometries / None, WGS84 lon/lat
    source_crs: str | None
    crs_source: str
    geometry_form: str
    coordinate_columns: list[str]
    notes: list[Problem] = field(default_factory=list)


# -- names --------------------------------------------------------------------------

def normalise_name(name: str) -> str:
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[_\d]+", normalise_name(name)) if t]


def _role(name: str) -> str | None:
    tokens = set(_tokens(name))
    vocabularies = (("lat", LAT_TOKENS), ("lon", LON_TOKENS), ("x", X_TOKENS), ("y", Y_TOKENS))
    roles = [role for role, vocab in vocabularies if tokens & vocab]
    return roles[0] if len(roles) == 1 else None  # "latlon" or "lat_x" names are ambiguous


def _pair_key(name: str, vocab: set[str]) -> str:
    norm = normalise_name(name)
    for token in sorted(vocab, key=len, reverse=True):
        norm, n = re.subn(rf"(?<![a-z]){token}(?![a-z])", "*", norm, count=1)
        if n:
            break
    return norm


def _pairs(columns: list[str], first: str, second: str) -> list[tuple[str, str]]:
    """(x-like, y-like) column pairs: same name once the role word is removed, else the only two."""
    vocab = {"lon": LON_TOKENS, "lat": LAT_TOKENS, "x": X_TOKENS, "y": Y_TOKENS}
    xs = [c for c in columns if _role(c) == first]
    ys = [c for c in columns if _role(c) == second]
    pairs, used = [], set()
    for cx in xs:
        for cy in ys:
            if cy not in used and _pair_key(cx, vocab[first]) == _pair_key(cy, vocab[second]):
                pairs.append((cx, cy))
                used.update((cx, cy))
                break
    rest_x = [c for c in xs if c not in used]
    rest_y = [c for c in ys if c not in used]
    if len(rest_x) == 1 and len(rest_y) == 1:  # e.g. misspelt lat_coor12 beside long_coor1
        pairs.append((rest_x[0], rest_y[0]))
    return pairs


def find_column(frame: pd.DataFrame, name: str) -> str | None:
    """A column by exact name, else by normalised name (case, accents, spaces)."""
    if not name or name in frame.columns:
        return name or None
    wanted = normalise_name(name)
    matches = [c for c in frame.columns if normalise_name(c) == wanted]
    return matches[0] if len(matches) == 1 else None


# -- parsing ------------------------------------------------------------------------

def parse_numbers(series: pd.Series) -> np.ndarray:
    """Numbers from text cells: spaces dropped, decimal comma accepted; NaN when unparsable."""
    if not (pd.api.types.is_string_dtype(series.dtype) or series.dtype == object):
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    try:
        # Fast path on the Arrow buffer; any unparsable cell makes cast() raise, and the
        # slower pandas path below then turns just those cells into NaN.
        arr = pc.replace_substring_regex(_arrow_text(series), r"[\s\x{00A0}\x{202F}]+", "")
        arr = pc.replace_substring(arr, ",", ".")
        return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False).astype(float)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
        text = series.astype("str").str.replace(r"[\s\u00a0\u202f]+", "", regex=True)
        text = text.str.replace(",", ".", regex=False)
        return pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _arrow_text(series: pd.Series) -> pa.Array | pa.ChunkedArray:
    """The Arrow buffer behind a text column (zero-copy for pandas' Arrow-backed ``str``)."""
    if hasattr(series.array, "__arrow_array__"):
        return pa.array(series.array)
    cells = series.astype(object).where(series.notna(), None).to_numpy()
    return pa.array(cells, type=pa.large_string(), from_pandas=True)


def _points(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    geoms = np.full(len(lon), None, dtype=object)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if ok.any():
        geoms[ok] = shapely.points(lon[ok], lat[ok])
    return geoms


def _cells(series: pd.Series) -> np.ndarray:  # text cells as Python objects, None when missing
    return series.to_numpy(dtype=object, na_value=None)


def _present(series: pd.Series) -> np.ndarray:
    return (series.notna() & (series.astype("str").str.strip() != "")).to_numpy(dtype=bool)


# -- sniffing -----------------------------------------------------------------------

def _sample(series: pd.Series, n: int = _SNIFF_ROWS) -> list[str]:
    return [str(v) for v in series.head(50 * n).dropna().head(n).tolist() if str(v).strip()]


def _share(values: list[str], pattern: re.Pattern[str]) -> float:
    return sum(bool(pattern.match(v)) for v in values) / max(len(values), 1)


def _cell_plans(frame: pd.DataFrame) -> list[Plan]:
    plans = []
    for col in frame.columns:
        if not (pd.api.types.is_string_dtype(frame[col].dtype) or frame[col].dtype == object):
            continue
        values = _sample(frame[col])
        if not values:
            continue
        if _share(values, GEOJSON_RE) >= 0.8:
            types = {m.group(1) for v in values if (m := GEOJSON_RE.match(v))}
            plans.append(Plan("geojson", [col], "GeoJSON", rank=-1 if types - {"Point", "Feature"} else 3))
        elif _share(values, WKT_RE) >= 0.8:
            types = {m.group(2).upper() for v in values if (m := WKT_RE.match(v))}
            plans.append(Plan("wkt", [col], "WKT", rank=-1 if types - {"POINT"} else 3))
        elif _share(values, ARRAY_RE) >= 0.8:
            lat_first = "geo_point_2d" in normalise_name(col)  # Opendatasoft writes [lat, lon]
            plans.append(Plan("cell", [col], "array", "latlon" if lat_first else "lonlat", False, 2))
        elif _share(values, PAIR_RE) >= 0.8:
            plans.append(Plan("cell", [col], "pair", "latlon", False, 2))  # Opendatasoft Geo Point
    return plans


def _pair_plans(frame: pd.DataFrame, declared: pyproj.CRS | None) -> list[Plan]:
    columns = [str(c) for c in frame.columns]
    head = frame.head(_RANK_ROWS)
    plans = []
    for label, (first, second) in (("lat/lon", ("lon", "lat")), ("X/Y", ("x", "y"))):
        for cx, cy in _pairs(columns, first, second):
            x, y = parse_numbers(head[cx]), parse_numbers(head[cy])
            ok = np.isfinite(x) & np.isfinite(y)
            present = _present(head[cx]) | _present(head[cy])
            if not ok.any() or ok.sum() < 0.5 * max(present.sum(), 1):
                continue
            degrees = crslib.looks_like_degrees(x[ok], y[ok])
            if declared is not None and not declared.is_geographic:
                rank = 1 if degrees else -0.5  # the user says projected: take the projected pair
            elif degrees:
                rank = 0 if label == "lat/lon" else 1
            else:
                rank = 4
            plans.append(Plan("pair", [cx, cy], label, rank=rank))
    return plans


def choose_plan(
    frame: pd.DataFrame, hint: dict[str, str] | None, declared: pyproj.CRS | None
) -> tuple[Plan | None, list[Plan], list[Problem]]:
    """The plan to use, the other plans found (to say what was set aside) and notes."""
    notes: list[Problem] = []
    if hint:
        lat, lon = find_column(frame, hint.get("lat", "")), find_column(frame, hint.get("lon", ""))
        if lat and lon:
            return Plan("pair", [lon, lat], "lat/lon"), [], notes
        col = find_column(frame, hint.get("point", ""))
        if col:
            sniffed = _cell_plans(frame[[col]])
            if sniffed and sniffed[0].kind in ("geojson", "wkt"):
                return sniffed[0], [], notes
            order = "latlon" if hint.get("order", "lonlat").replace("_", "").lower() == "latlon" else "lonlat"
            return Plan("cell", [col], sniffed[0].label if sniffed else "array", order), [], notes
        wanted = " / ".join(f"« {hint[k]} »" for k in ("lat", "lon", "point") if k in hint)
        notes.append(Problem("coordinates-hint-missing", f"colonnes de coordonnées attendues par le catalogue "
                             f"absentes ({wanted}) : détection automatique", severity="info"))
    plans = sorted(_pair_plans(frame, declared) + _cell_plans(frame), key=lambda p: p.rank)
    if not plans:
        return None, [], notes
    return plans[0], plans[1:], notes


# -- building -----------------------------------------------------------------------

def _describe(plan: Plan) -> str:
    cols = plan.columns
    if plan.kind == "pair":
        first, second = cols[::-1] if plan.label == "lat/lon" else cols
        return f"colonnes {plan.label} « {first} » / « {second} »"
    if plan.kind == "cell":
        form = "lat, lon" if plan.order == "latlon" else "lon, lat"
        return f"cellule « {f'[{form}]' if plan.label == 'array' else form} » « {cols[0]} »"
    return f"géométrie {'GeoJSON' if plan.kind == 'geojson' else 'WKT'} dans la cellule « {cols[0]} »"


def _cell_numbers(series: pd.Series, label: str) -> tuple[np.ndarray, np.ndarray]:
    """The two numbers of ``"a, b"`` / ``"[a,b]"`` cells: NaN where the cell does not match."""
    pattern = (ARRAY_RE if label == "array" else PAIR_RE).pattern
    # pyarrow's RE2 extraction runs ~7x faster than pandas' str.extract on a million cells.
    matched = pc.extract_regex(_arrow_text(series), pattern)
    return tuple(  # type: ignore[return-value]
        pc.cast(pc.struct_field(matched, [i]), pa.float64()).to_numpy(zero_copy_only=False).astype(float)
        for i in (0, 1)
    )


Cells = pd.Series | pd.DataFrame  # the source cells of the rows, read only when a note quotes them


def _text(values: Cells, i: int) -> str:
    value = values.iloc[i]
    return " ; ".join(map(str, value)) if isinstance(value, pd.Series) else str(value)


def _swap_notes(swapped: np.ndarray, rows: np.ndarray, values: Cells, field: str) -> list[Problem]:
    count = int(swapped.sum())
    if not count:
        return []
    if count > 0.5 * len(swapped):  # the whole file: one note, not a million
        return [Problem("coordinates-swapped", f"latitude et longitude inversées sur {count} ligne(s) sur "
                        f"{len(swapped)} : elles ont été remises dans l'ordre", field=field, severity="warning")]
    return [
        Problem("coordinates-swapped", "latitude et longitude inversées : remises dans l'ordre",
                row=int(rows[i]), field=field, value=_text(values, i), severity="warning")
        for i in np.flatnonzero(swapped)
    ]


def _unparsable_notes(failed: np.ndarray, rows: np.ndarray, values: Cells, field: str) -> list[Problem]:
    return [
        Problem("coordinates-unparsable", "coordonnées illisibles : la ligne n'a pas de géométrie",
                row=int(rows[i]), field=field, value=_text(values, i)[:120], severity="warning")
        for i in np.flatnonzero(failed)
    ]


def build_geometry(
    frame: pd.DataFrame,
    *,
    row_numbers: np.ndarray,
    territory: Territory,
    hint: dict[str, str] | None = None,
    declared: pyproj.CRS | None = None,
    declared_source: str = "",
    file: str | Path | None = None,
) -> GeometryResult:
    """Find the coordinates of a table and build WGS84 geometries, one per row."""
    plan, others, notes = choose_plan(frame, hint, declared)
    if plan is None:
        notes.append(Problem("coordinates-not-found", "aucune colonne de coordonnées reconnue "
                             "(lat/lon, X/Y, Geo Point, GeoJSON, WKT)", severity="warning"))
        return GeometryResult(np.full(len(frame), None, dtype=object), None, "aucune", "aucune géométrie trouvée", [], notes)

    form = _describe(plan)
    field_name = " / ".join(plan.columns)
    set_aside = [p for p in others if p.rank > plan.rank and p.kind == "pair" and p.rank >= 4]
    if set_aside and plan.rank < 4:
        names = ", ".join(f"« {p.columns[0]} » / « {p.columns[1]} »" for p in set_aside)
        form += f" ; colonnes projetées {names} écartées au profit des coordonnées WGS84"
        notes.append(Problem("coordinates-choice", f"colonnes projetées {names} présentes : "
                             f"les coordonnées WGS84 ({_describe(plan)}) sont préférées", severity="info"))

    if plan.kind in ("pair", "cell"):
        if plan.kind == "pair":
            series = [frame[c] for c in plan.columns]
            x, y = parse_numbers(series[0]), parse_numbers(series[1])
            present = _present(series[0]) | _present(series[1])
            values = frame[plan.columns[::-1]]  # lat then lon, as notes quote them
        else:
            cell = frame[plan.columns[0]]
            a, b = _cell_numbers(cell, plan.label)
            present = _present(cell)
            values = cell
            if not plan.order_known:
                # Order not stated: keep the one that puts more points on the territory.
                as_given = territory.fraction_inside(*((b, a) if plan.order == "latlon" else (a, b)))
                flipped = territory.fraction_inside(*((a, b) if plan.order == "latlon" else (b, a)))
                if flipped > as_given:
                    plan.order = "lonlat" if plan.order == "latlon" else "latlon"
                    form = _describe(plan)
            x, y = (b, a) if plan.order == "latlon" else (a, b)
        located = crslib.locate_points(x, y, territory=territory, declared=declared,
                                       declared_source=declared_source, what=f"« {field_name} »", file=file)
        geoms = _points(located.lon, located.lat)
        notes += _swap_notes(located.swapped, row_numbers, values, field_name)
        if located.axes_exchanged:
            notes.append(Problem("coordinates-swapped", "colonnes X et Y inversées : remises dans l'ordre",
                                 field=field_name, severity="warning"))
        failed = present & ~(np.isfinite(x) & np.isfinite(y))
        notes += _unparsable_notes(failed, row_numbers, values, field_name)
        return GeometryResult(geoms, located.source_crs, located.crs_source, form, list(plan.columns), notes)

    cell = frame[plan.columns[0]]
    present = _present(cell)
    geoms, source_crs, crs_source, more = _geometry_cells(
        cell, plan, territory, declared, declared_source, row_numbers, file)
    notes += more
    failed = present & shapely.is_missing(geoms)
    notes += _unparsable_notes(failed, row_numbers, cell, plan.columns[0])
    return GeometryResult(geoms, source_crs, crs_source, form, list(plan.columns), notes)


def _geometry_cells(cell: pd.Series, plan: Plan, territory: Territory, declared: pyproj.CRS | None,
                    declared_source: str, rows: np.ndarray, file: str | Path | None,
                    ) -> tuple[np.ndarray, str | None, str, list[Problem]]:
    text = cell.astype("str")
    if plan.kind == "geojson":
        geoms = shapely.from_geojson(_cells(cell), on_invalid="ignore")
        crs = declared or pyproj.CRS.from_user_input(crslib.CRS84)
        source = declared_source if declared else "GeoJSON dans une cellule : CRS84 (RFC 7946)"
        geoms, label, source, swapped = crslib.locate_geometries(
            geoms, territory=territory, crs=crs, crs_source=source, file=file
        )
        return geoms, label, source, _swap_notes(swapped, rows, cell, plan.columns[0])

    srid = text.str.extract(SRID_PREFIX, flags=re.I)[0]
    stripped = text.str.replace(SRID_PREFIX, "", regex=True, case=False)
    geoms = shapely.from_wkt(_cells(stripped.where(cell.notna())), on_invalid="ignore")
    # One group per SRID (EWKT), plus the cells without one; --crs, when given, wins over all.
    groups = [(None, np.ones(len(geoms), dtype=bool))] if declared else [
        (code, (srid == code).to_numpy(dtype=bool)) for code in sorted(set(srid.dropna()))
    ] + [(None, srid.isna().to_numpy(dtype=bool))]
    out = np.full(len(geoms), None, dtype=object)
    labels, sources, notes = [], [], []
    for code, mask in (g for g in groups if g[1].any()):
        origin = f"SRID={code} dans « {plan.columns[0]} »"
        crs = crslib.parse_crs(code, file=file, origin=origin) if code else declared
        part, label, source, swapped = crslib.locate_geometries(
            geoms[mask], territory=territory, crs=crs, crs_source=f"EWKT (SRID={code})" if code else declared_source,
            file=file, what=f"« {plan.columns[0]} »",
        )
        out[mask] = part
        labels.append(label)
        sources.append(source)
        notes += _swap_notes(swapped, rows[mask], cell[mask], plan.columns[0])
    return out, ", ".join(dict.fromkeys(str(x) for x in labels)), " ; ".join(dict.fromkeys(sources)), notes
