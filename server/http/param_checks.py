"""The value checks behind the parameter table (``params.py``): one function per
parameter, raising ``InvalidParameter`` with a French message that says what is expected."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

import orjson
import pyproj
from pygeoapi.crs import get_crs
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text
from werkzeug.datastructures import MultiDict

from ..pygeoapi_config import MAX_LIMIT  # server.limits.max_items of the configuration
from .errors import InvalidParameter
from .routing import BASE_FORMATS, CollectionInfo

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84H = "http://www.opengis.net/def/crs/OGC/0/CRS84h"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
LAT_FIRST = frozenset({EPSG4326})
GEOGRAPHIC = frozenset({CRS84, CRS84H, EPSG4326})

MAX_OFFSET = 2**53  # beyond, SQLite's 64-bit OFFSET (+ limit) could overflow
SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean", "date", "datetime", "time", "year"})
TRUE_WORDS = ("true", "1", "yes", "t", "on")  # what pygeoapi's str2bool reads as true
FALSE_WORDS = ("false", "0", "no", "f", "off")
# Boolean property filters: the words the store reads (layers/store/gpkg_query.py).
BOOLEAN_WORDS = frozenset({"true", "1", "yes", "oui", "vrai", "false", "0", "no", "non", "faux"})

# ASCII digits only, whole value (``fullmatch``): int() and float() would also take "٣",
# "1_000", "nan" or "inf".
_NUMBER = re.compile(r" *[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)? *", re.ASCII)
_INTEGER = re.compile(r"\d+", re.ASCII)


@dataclass(frozen=True)
class Context:
    """What a value check may need to know about the request."""

    kind: str
    args: MultiDict
    collection: CollectionInfo | None
    field_types: Mapping[str, str]


def fail(parameter: str, message: str) -> InvalidParameter:
    return InvalidParameter(parameter, message)


def shorten(value: str, size: int = 60) -> str:
    return value if len(value) <= size else value[: size - 1] + "…"


# -- value checks -----------------------------------------------------------------------
def check_format(value: str, ctx: Context) -> None:
    formats = ctx.collection.item_formats if (ctx.kind == "items" and ctx.collection) else BASE_FORMATS
    if value.strip() not in formats:
        raise fail("f", f"format « {shorten(value)} » inconnu ; valeurs possibles : {', '.join(sorted(formats))}")


def _crs_list(ctx: Context) -> tuple[str, ...]:
    return ctx.collection.crs if ctx.collection else (CRS84,)


def _check_crs_value(parameter: str, value: str, ctx: Context) -> None:
    if value not in _crs_list(ctx):
        raise fail(
            parameter,
            f"système de coordonnées « {shorten(value)} » non proposé par cette collection ; "
            f"valeurs possibles : {', '.join(_crs_list(ctx))}",
        )


def check_crs(value: str, ctx: Context) -> None:
    _check_crs_value("crs", value, ctx)


def check_filter_crs(value: str, ctx: Context) -> None:
    _check_crs_value("filter-crs", value, ctx)


def check_bbox_crs(value: str, ctx: Context) -> None:
    if "bbox" not in ctx.args:
        raise fail("bbox-crs", "bbox-crs n'a de sens qu'avec le paramètre bbox")
    _check_crs_value("bbox-crs", value, ctx)


@lru_cache(maxsize=32)
def _transformers(crs_uri: str) -> tuple[pyproj.Transformer, pyproj.Transformer]:
    """(crs → CRS84, CRS84 → crs), axis orders as the CRS defines them (as pygeoapi does)."""
    crs, crs84 = get_crs(crs_uri), get_crs(CRS84)
    return pyproj.Transformer.from_crs(crs, crs84), pyproj.Transformer.from_crs(crs84, crs)


def _on_earth(crs_uri: str, xs: list[float], ys: list[float]) -> bool:
    """Whether projected coordinates are inside the projection's domain: converted to
    CRS84 they must be finite longitudes / latitudes that convert back to themselves (a
    conic projection's inverse happily "wraps" absurd values onto the globe)."""
    to_crs84, from_crs84 = _transformers(crs_uri)
    try:
        lons, lats = to_crs84.transform(xs, ys)
        xs2, ys2 = from_crs84.transform(lons, lats)
    except Exception:  # noqa: BLE001 — pyproj refuses: outside the CRS
        return False
    for lon, lat, x, y, x2, y2 in zip(lons, lats, xs, ys, xs2, ys2):
        if not all(math.isfinite(v) for v in (lon, lat, x2, y2)) or abs(lon) > 180 or abs(lat) > 90:
            return False
        if abs(x2 - x) > 1 + 1e-6 * abs(x) or abs(y2 - y) > 1 + 1e-6 * abs(y):
            return False
    return True


def check_bbox(value: str, ctx: Context) -> None:
    parts = value.split(",")
    if len(parts) not in (4, 6):
        raise fail("bbox", f"bbox attend 4 nombres séparés par des virgules (ouest,sud,est,nord), reçu {len(parts)} valeur(s)")
    if not all(_NUMBER.fullmatch(p) for p in parts):
        raise fail("bbox", f"bbox : « {shorten(value)} » n'est pas une liste de nombres (point décimal, pas de virgule décimale)")
    numbers = [float(p) for p in parts]
    if not all(math.isfinite(n) for n in numbers):
        raise fail("bbox", "bbox : nombres trop grands")
    if len(numbers) == 6:
        if numbers[2] > numbers[5]:
            raise fail("bbox", "bbox : la hauteur minimale (3e nombre) dépasse la hauteur maximale (6e)")
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    crs = ctx.args.get("bbox-crs") or CRS84
    if crs not in _crs_list(ctx) and crs != CRS84:
        return  # bbox-crs itself is refused by its own check
    if crs in GEOGRAPHIC:
        lat_first = crs in LAT_FIRST
        lon = (numbers[1], numbers[3]) if lat_first else (numbers[0], numbers[2])
        lat = (numbers[0], numbers[2]) if lat_first else (numbers[1], numbers[3])
        if not all(-180.0 <= v <= 180.0 for v in lon):
            raise fail("bbox", "bbox : les longitudes doivent être comprises entre -180 et 180")
        if not all(-90.0 <= v <= 90.0 for v in lat):
            raise fail("bbox", "bbox : les latitudes doivent être comprises entre -90 et 90")
        if lat[0] > lat[1]:
            raise fail("bbox", "bbox : le sud doit être inférieur ou égal au nord")
        return  # west > east: crossing the antimeridian, allowed
    if numbers[0] > numbers[2] or numbers[1] > numbers[3]:
        raise fail("bbox", "bbox : le minimum doit être inférieur ou égal au maximum sur chaque axe")
    if not _on_earth(crs, [numbers[0], numbers[2]], [numbers[1], numbers[3]]):
        raise fail("bbox", f"bbox : coordonnées hors du domaine de validité de {crs}")


def check_limit(value: str, ctx: Context) -> None:
    # (length first: int() refuses more than 4300 digits; beyond 10 000 the value is clamped anyway)
    if not _INTEGER.fullmatch(value) or len(value) > 40 or int(value) < 1:
        raise fail("limit", f"limit attend un entier supérieur ou égal à 1 (au plus {MAX_LIMIT}, valeur ramenée à {MAX_LIMIT} au-delà), reçu « {shorten(value)} »")


def check_offset(value: str, ctx: Context) -> None:
    if not _INTEGER.fullmatch(value):
        raise fail("offset", f"offset attend un entier positif ou nul, reçu « {shorten(value)} »")
    if len(value) > 20 or int(value) > MAX_OFFSET:
        raise fail("offset", f"offset trop grand (au plus {MAX_OFFSET})")


def _instant(text: str) -> dt.datetime | None:
    """An RFC 3339 date or date-time, or None when open (``..`` or empty)."""
    if text in ("", ".."):
        return None
    if len(text) == 10:
        day = dt.date.fromisoformat(text)
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    if "T" not in text.upper():
        raise ValueError(text)
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def check_datetime(value: str, ctx: Context) -> None:
    parts = value.split("/")
    try:
        if len(parts) == 1:
            if _instant(parts[0]) is None:
                raise ValueError(value)
            return
        if len(parts) != 2:
            raise ValueError(value)
        start, end = _instant(parts[0]), _instant(parts[1])
    except ValueError:
        raise fail(
            "datetime",
            f"datetime attend une date RFC 3339 (2024-05-01, 2024-05-01T12:00:00Z) ou un intervalle "
            f"début/fin (« .. » pour ouvert), reçu « {shorten(value)} »",
        ) from None
    if start is not None and end is not None and start > end:
        raise fail("datetime", "datetime : le début de l'intervalle est après sa fin")


def _property_names(value: str, parameter: str, ctx: Context, allowed: Mapping[str, str], what: str) -> list[str]:
    names = value.split(",")
    for name in names:
        if not name:
            raise fail(parameter, f"{parameter} : nom de propriété vide dans « {shorten(value)} »")
        if name not in allowed:
            raise fail(
                parameter,
                f"{parameter} : « {shorten(name)} » n'est pas une propriété {what} ; "
                f"valeurs possibles : {', '.join(allowed) or 'aucune'}",
            )
    return names


def check_properties(value: str, ctx: Context) -> None:
    _property_names(value, "properties", ctx, ctx.field_types, "de cette collection")


def check_sortby(value: str, ctx: Context) -> None:
    sortable = {name: kind for name, kind in ctx.field_types.items() if kind in SCALAR_TYPES}
    keys = []
    for key in value.split(","):
        if key.startswith(" "):
            raise fail("sortby", "sortby : un « + » non encodé devient une espace dans une URL ; écrire %2B ou rien (croissant par défaut)")
        keys.append(key[1:] if key[:1] in ("+", "-") else key)
    _property_names(",".join(keys), "sortby", ctx, sortable, "triable de cette collection")


FILTER_LANGUAGES = ("cql2-text", "cql2-json")


def check_filter_lang(value: str, ctx: Context) -> None:
    if value not in FILTER_LANGUAGES:
        raise fail("filter-lang", f"filter-lang « {shorten(value)} » inconnu ; valeurs possibles : {', '.join(FILTER_LANGUAGES)}")


MAX_FILTER_DEPTH = 64  # SQLite's parser overflows at ~90 nested conditions (a 500 otherwise)


def _parse_filter(value: str, language: str | None) -> tuple[Any, str | None]:
    """(AST, None) when ``value`` parses, else (None, the parser's complaint)."""
    try:
        from server import cql_parse  # the server's own parser (pygeofilter + extensions)
    except ImportError:  # pragma: no cover — without it, plain pygeofilter, as pygeoapi does
        cql_parse = None
    try:
        if cql_parse is not None:
            node = cql_parse.parse(value, language)
            error = getattr(cql_parse, "FilterSyntaxError", None)
            if error is not None and isinstance(node, error):
                return None, str(node.message)
            return node, None
        if language == "cql2-json":
            return parse_cql2_json(orjson.loads(value)), None
        return parse_cql2_text(value), None
    except Exception as exc:  # noqa: BLE001 — lark / pygeofilter raise many kinds
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, f"filtre CQL2 illisible : {detail}"


def _depth(node: Any) -> int:
    """Nesting depth of a pygeofilter AST (iterative: a deep tree must not overflow us)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        children = current.get_sub_nodes() if hasattr(current, "get_sub_nodes") else []
        stack.extend((child, depth + 1) for child in children or [] if child is not None)
    return deepest


def check_filter(value: str, ctx: Context) -> None:
    if not value.strip():
        raise fail("filter", "filter est vide")
    node, problem = _parse_filter(value, ctx.args.get("filter-lang"))
    if problem is not None:
        raise fail("filter", shorten(problem, 300))
    if _depth(node) > MAX_FILTER_DEPTH:
        raise fail("filter", f"filtre trop imbriqué (au plus {MAX_FILTER_DEPTH} niveaux) ; "
                              "pour une liste de valeurs, écrire « propriété IN (v1, v2, …) »")


def check_skip_geometry(value: str, ctx: Context) -> None:
    if value.strip().lower() not in TRUE_WORDS + FALSE_WORDS:
        raise fail("skipGeometry", f"skipGeometry attend true ou false, reçu « {shorten(value)} »")


def check_resulttype(value: str, ctx: Context) -> None:
    if value not in ("results", "hits"):
        raise fail("resulttype", f"resulttype attend results ou hits, reçu « {shorten(value)} »")


def check_queryables_properties(value: str, ctx: Context) -> None:
    names = [n for n in value.split(",") if n]
    if names:
        _property_names(",".join(names), "properties", ctx, ctx.field_types, "de cette collection")


def check_property_value(name: str, value: str, kind: str) -> None:
    """``name=value`` filter: the value must read as the property's type."""
    ok = True
    if kind in ("integer", "year"):
        # As the store reads it: any integral number ("3", "3.0"), within 64 bits.
        ok = bool(_NUMBER.fullmatch(value)) and math.isfinite(number := float(value)) and number.is_integer() \
            and -(2.0**63) <= number < 2.0**63
    elif kind == "number":
        ok = bool(_NUMBER.fullmatch(value)) and math.isfinite(float(value))  # float() has no digit limit
    elif kind == "boolean":
        ok = value.strip().lower() in BOOLEAN_WORDS  # GDAL's OAPIF driver sends acces=1
    elif kind == "date":
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            ok = False
    elif kind == "datetime":
        try:
            dt.datetime.fromisoformat(value)
        except ValueError:
            ok = False
    if not ok:
        expected = {
            "integer": "un entier", "year": "une année (entier)", "number": "un nombre",
            "boolean": "true ou false (ou 1 / 0)", "date": "une date AAAA-MM-JJ", "datetime": "une date-heure RFC 3339",
        }[kind]
        raise fail(name, f"{name} attend {expected}, reçu « {shorten(value)} »")
